import type { HttpExchange } from '../../sensor/http/http-exchange';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';
import { EXCHANGE_GROUP_SIZE, ExchangeGroups, spansOfGroup } from '../../sensor/span/exchange-groups';

function recorder(size?: number) {
  const groups: number[][] = [];
  const errors: unknown[] = [];
  const groupsOf = new ExchangeGroups<number>({ size, handleGroup: (group) => void groups.push([...group]), onError: (error) => void errors.push(error) });
  return { groups, errors, groupsOf };
}

test('a full group goes to the span stage at once, in the order the exchanges completed', () => {
  const { groups, groupsOf } = recorder(3);
  groupsOf.push(1);
  groupsOf.push(2);
  expect(groups).toEqual([]);
  expect(groupsOf.pending).toBe(2);
  groupsOf.push(3);
  expect(groups).toEqual([[1, 2, 3]]);
  expect(groupsOf.pending).toBe(0);
});

test('a group never holds more than its size, however many exchanges one delivery completes', () => {
  const { groups, groupsOf } = recorder();
  for (let exchange = 0; exchange < 2 * EXCHANGE_GROUP_SIZE + 5; exchange++) groupsOf.push(exchange);
  expect(groups.map((group) => group.length)).toEqual([EXCHANGE_GROUP_SIZE, EXCHANGE_GROUP_SIZE]);
  expect(groupsOf.pending).toBe(5);
});

test('a partial group is handed on before the event loop turns: no exchange waits for a timer or for more traffic', async () => {
  const { groups, groupsOf } = recorder(32);
  groupsOf.push(7);
  groupsOf.push(8);
  expect(groups).toEqual([]);
  await Promise.resolve(); // the microtask queue, which runs before any timer, I/O or setImmediate callback
  expect(groups).toEqual([[7, 8]]);
  // Nothing is handed on twice, and a later exchange gets a flush of its own.
  groupsOf.push(9);
  await new Promise((resolve) => setImmediate(resolve));
  expect(groups).toEqual([[7, 8], [9]]);
});

test('flush hands on what is queued now (the sensor stopping), and a flush with nothing queued hands on nothing', () => {
  const { groups, groupsOf } = recorder(32);
  groupsOf.flush();
  expect(groups).toEqual([]);
  groupsOf.push(1);
  groupsOf.flush();
  expect(groups).toEqual([[1]]);
});

test('a group whose stage throws is reported, and the exchanges after it are still handed on', () => {
  const handled: number[][] = [];
  const errors: string[] = [];
  const groupsOf = new ExchangeGroups<number>({
    size: 2,
    handleGroup: (group) => {
      if (group.includes(2)) throw new Error('a bug in the span stage');
      handled.push([...group]);
    },
    onError: (error) => void errors.push((error as Error).message),
  });
  [1, 2, 3, 4].forEach((exchange) => groupsOf.push(exchange));
  expect(errors).toEqual(['a bug in the span stage']);
  expect(handled).toEqual([[3, 4]]);
});

test('exchanges completed while a group is handled are handed on by the same flush, after it, never by a nested one', () => {
  const groups: number[][] = [];
  let depth = 0;
  let deepest = 0;
  const groupsOf: ExchangeGroups<number> = new ExchangeGroups<number>({
    size: 2,
    handleGroup: (group) => {
      depth++;
      deepest = Math.max(deepest, depth);
      groups.push([...group]);
      // A stage that completes more exchanges (none does today): enough to fill a group of their own.
      if (group[0] === 1) [10, 11, 12].forEach((exchange) => groupsOf.push(exchange));
      depth--;
    },
    onError: (error) => {
      throw error;
    },
  });
  groupsOf.push(1);
  groupsOf.push(2);
  expect(deepest).toBe(1);
  expect(groups).toEqual([[1, 2], [10, 11, 12]]);
  expect(groupsOf.pending).toBe(0);
});

test('a group\'s spans keep their process beside them; an exchange that is no span or that throws costs itself only', () => {
  const exchange = (pid: number) => ({ connection: { pid, comm: `p${pid}` } }) as unknown as HttpExchange;
  const spanOf = (pid: number) => ({ spanId: `span-${pid}` }) as unknown as GenAiSpan;
  const errors: string[] = [];
  const { spans, origins } = spansOfGroup(
    [exchange(1), exchange(2), exchange(3), exchange(4)],
    (candidate) => {
      const pid = candidate.connection.pid;
      if (pid === 2) return undefined;
      if (pid === 3) throw new Error('a bug for this exchange');
      return spanOf(pid);
    },
    (error) => void errors.push((error as Error).message),
  );
  expect(spans.map((span) => span.spanId)).toEqual(['span-1', 'span-4']);
  expect(origins).toEqual([{ pid: 1, comm: 'p1' }, { pid: 4, comm: 'p4' }]);
  expect(errors).toEqual(['a bug for this exchange']);
});
