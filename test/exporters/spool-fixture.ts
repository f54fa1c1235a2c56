/** What the spool tests share: numbered records, and reading a queue out in order. */
import type { BatchQueue } from '../../sensor/exporters/spool';

export const record = (n: number) => Buffer.from(JSON.stringify({ n, pad: 'x'.repeat(80) }));
export const numberOf = (bytes: Buffer) => (JSON.parse(bytes.toString()) as { n: number }).n;

/** Every batch's number, oldest first, each acknowledged once read. */
export function drain(queue: BatchQueue): number[] {
  const seen: number[] = [];
  for (let batch = queue.peek(); batch; batch = queue.peek()) {
    seen.push(numberOf(batch.bytes));
    queue.ack(batch);
  }
  return seen;
}
