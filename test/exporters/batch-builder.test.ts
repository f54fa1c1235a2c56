import { BatchBuilder, joinEncodedItems } from '../../sensor/exporters/batch-builder';
import { JSON_ARRAY_FRAMING } from '../../sensor/exporters/span-json';

const PROTOBUF_FRAMING = { open: '', separator: '', close: '' };

test('a batch is the framed items, multi-byte text included; no items is the framing alone', () => {
  const items = ['{"a":"漢字"}', '{"b":1}', '"é"'];
  expect(joinEncodedItems(items, JSON_ARRAY_FRAMING)).toEqual(Buffer.from(`[${items.join(',')}]`));
  expect(joinEncodedItems([], JSON_ARRAY_FRAMING).toString()).toBe('[]');
  expect(joinEncodedItems([Buffer.from([1, 2]), Buffer.from([3])], PROTOBUF_FRAMING)).toEqual(Buffer.from([1, 2, 3]));
});

test('the builder counts items and bytes with a separator each, as a batch size limit is held against', () => {
  const builder = new BatchBuilder(JSON_ARRAY_FRAMING, 1024);
  builder.add('{"a":"漢字"}');
  builder.add(Buffer.from('{"b":1}'));
  expect({ items: builder.items, bytes: builder.bytes }).toEqual({ items: 2, bytes: Buffer.byteLength('{"a":"漢字"}') + 1 + 7 + 1 });
  builder.take();
  expect({ items: builder.items, bytes: builder.bytes }).toEqual({ items: 0, bytes: 0 });
});

test('a cut batch is its own copy: the batches after it, in the reused buffer, never change it', () => {
  const builder = new BatchBuilder(JSON_ARRAY_FRAMING, 256);
  const batches: Array<{ bytes: Buffer; expected: string }> = [];
  // Small batches, one that outgrows the buffer many times (and is let go afterwards), small ones again.
  for (const size of [3, 5, 200_000, 2, 7]) {
    const items = Array.from({ length: 4 }, (_, index) => JSON.stringify({ index, text: 'x'.repeat(size) }));
    for (const item of items) builder.add(item);
    batches.push({ bytes: builder.take(), expected: `[${items.join(',')}]` });
  }
  expect(batches.map((batch) => batch.bytes.toString())).toEqual(batches.map((batch) => batch.expected));
});

test('items given as views of a buffer their encoder reuses are copied when added', () => {
  const scratch = Buffer.alloc(4);
  const builder = new BatchBuilder(PROTOBUF_FRAMING, 1024);
  for (const value of [1, 2, 3]) {
    scratch.fill(value);
    builder.add(scratch.subarray(0, 2));
  }
  expect(builder.take()).toEqual(Buffer.from([1, 1, 2, 2, 3, 3]));
});
