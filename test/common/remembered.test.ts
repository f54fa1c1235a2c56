import { remembered, rememberedText } from '../../sensor/common/remembered';

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

test('texts longer than the limit are answered every time and never kept', () => {
  const computed: string[] = [];
  const lookUp = rememberedText((key: string) => {
    computed.push(key);
    return key.length;
  }, 8, 4);
  const long = 'p'.repeat(5);
  expect([lookUp('abcd'), lookUp('abcd'), lookUp(long), lookUp(long)]).toEqual([4, 4, 5, 5]);
  expect(computed).toEqual(['abcd', long, long]);
});
