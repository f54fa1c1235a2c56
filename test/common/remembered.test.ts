import { remembered } from '../../sensor/common/remembered';

test('each key is computed once, an undefined answer included, and the table starts afresh when full', () => {
  const computed: string[] = [];
  const lookUp = remembered((key: string) => {
    computed.push(key);
    return key.startsWith('x') ? undefined : key.length;
  }, 3);
  expect([lookUp('a'), lookUp('bb'), lookUp('xyz'), lookUp('a'), lookUp('xyz')]).toEqual([1, 2, undefined, 1, undefined]);
  expect(computed).toEqual(['a', 'bb', 'xyz']);
  lookUp('dddd'); // a fourth key: the table is full, so it is cleared first
  lookUp('a');
  expect(computed).toEqual(['a', 'bb', 'xyz', 'dddd', 'a']);
});
