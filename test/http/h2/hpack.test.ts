import { HpackDecoder, HpackError, type HpackErrorCode } from '../../../sensor/http/h2/hpack';
import { huffmanCodeOf, huffmanDecode, huffmanEncode } from '../../../sensor/http/h2/hpack-huffman';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const pairs = (decoder: HpackDecoder, block: string): Array<[string, string]> =>
  decoder.decode(hex(block)).fields.map((field): [string, string] => [field.name, field.value]);

function expectHpackError(run: () => unknown, code: HpackErrorCode): void {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(HpackError);
    expect((err as HpackError).code).toBe(code);
    return;
  }
  throw new Error(`expected an HpackError ${code}`);
}

describe('RFC 7541 C.2 header field representations', () => {
  it('C.2.1 literal with indexing adds to the dynamic table', () => {
    const decoder = new HpackDecoder();
    expect(pairs(decoder, '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).toEqual([['custom-key', 'custom-header']]);
    expect(decoder.dynamicTable).toEqual([['custom-key', 'custom-header']]);
    expect(decoder.tableSize).toBe(55);
  });

  it('C.2.2 literal without indexing leaves the table empty', () => {
    const decoder = new HpackDecoder();
    expect(pairs(decoder, '040c 2f73 616d 706c 652f 7061 7468')).toEqual([[':path', '/sample/path']]);
    expect(decoder.dynamicTable).toEqual([]);
    expect(decoder.tableSize).toBe(0);
  });

  it('C.2.3 never-indexed literal is flagged and not stored', () => {
    const decoder = new HpackDecoder();
    const { fields } = decoder.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'));
    expect(fields).toEqual([{ name: 'password', value: 'secret', neverIndexed: true }]);
    expect(decoder.tableSize).toBe(0);
  });

  it('C.2.4 indexed field from the static table', () => {
    const decoder = new HpackDecoder();
    expect(pairs(decoder, '82')).toEqual([[':method', 'GET']]);
    expect(decoder.tableSize).toBe(0);
  });
});

const REQUEST_1: Array<[string, string]> = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
const REQUEST_2: Array<[string, string]> = [...REQUEST_1, ['cache-control', 'no-cache']];
const REQUEST_3: Array<[string, string]> = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];

function checkRequestSequence(blocks: [string, string, string]): void {
  const decoder = new HpackDecoder();
  expect(pairs(decoder, blocks[0])).toEqual(REQUEST_1);
  expect(decoder.dynamicTable).toEqual([[':authority', 'www.example.com']]);
  expect(decoder.tableSize).toBe(57);

  expect(pairs(decoder, blocks[1])).toEqual(REQUEST_2);
  expect(decoder.dynamicTable).toEqual([['cache-control', 'no-cache'], [':authority', 'www.example.com']]);
  expect(decoder.tableSize).toBe(110);

  expect(pairs(decoder, blocks[2])).toEqual(REQUEST_3);
  expect(decoder.dynamicTable).toEqual([['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']]);
  expect(decoder.tableSize).toBe(164);
}

describe('RFC 7541 C.3 / C.4 request sequences', () => {
  it('C.3 without Huffman coding', () => {
    checkRequestSequence([
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ]);
  });

  it('C.4 with Huffman coding', () => {
    checkRequestSequence([
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ]);
  });
});

const DATE_21 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE_22 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';

function checkResponseSequence(blocks: [string, string, string]): void {
  // The examples run with SETTINGS_HEADER_TABLE_SIZE 256; a size update block (0x3f e1 01 = 256) sets it.
  const decoder = new HpackDecoder();
  expect(decoder.decode(hex('3fe101')).fields).toEqual([]);
  expect(decoder.maxTableSize).toBe(256);

  expect(pairs(decoder, blocks[0])).toEqual([[':status', '302'], ['cache-control', 'private'], ['date', DATE_21], ['location', LOCATION]]);
  expect(decoder.dynamicTable).toEqual([['location', LOCATION], ['date', DATE_21], ['cache-control', 'private'], [':status', '302']]);
  expect(decoder.tableSize).toBe(222);

  // Adding ":status: 307" evicts the oldest entry, ":status: 302".
  expect(pairs(decoder, blocks[1])).toEqual([[':status', '307'], ['cache-control', 'private'], ['date', DATE_21], ['location', LOCATION]]);
  expect(decoder.dynamicTable).toEqual([[':status', '307'], ['location', LOCATION], ['date', DATE_21], ['cache-control', 'private']]);
  expect(decoder.tableSize).toBe(222);

  expect(pairs(decoder, blocks[2])).toEqual([
    [':status', '200'],
    ['cache-control', 'private'],
    ['date', DATE_22],
    ['location', LOCATION],
    ['content-encoding', 'gzip'],
    ['set-cookie', COOKIE],
  ]);
  expect(decoder.dynamicTable).toEqual([['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE_22]]);
  expect(decoder.tableSize).toBe(215);
}

describe('RFC 7541 C.5 / C.6 response sequences with evictions', () => {
  it('C.5 without Huffman coding', () => {
    checkResponseSequence([
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d' +
        '546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f' +
        '6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b' +
        '2076 6572 7369 6f6e 3d31',
    ]);
  });

  it('C.6 with Huffman coding', () => {
    checkResponseSequence([
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7' +
        '8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335' +
        'dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ]);
  });
});

describe('Huffman code', () => {
  it('matches rows of the RFC 7541 Appendix B table', () => {
    const rows: Array<[number, number, number]> = [
      [0, 0x1ff8, 13],
      [1, 0x7fffd8, 23],
      [9, 0xffffea, 24],
      [10, 0x3ffffffc, 30],
      [32, 0x14, 6],
      [48, 0x0, 5],
      [88, 0xfc, 8],
      [97, 0x3, 5],
      [126, 0x1ffd, 13],
      [128, 0xfffe6, 20],
      [255, 0x3ffffee, 26],
      [256, 0x3fffffff, 30],
    ];
    for (const [symbol, code, length] of rows) expect(huffmanCodeOf(symbol)).toEqual({ code, length });
  });

  it('is a complete prefix code (Kraft sum of exactly 1)', () => {
    let sum = 0;
    for (let symbol = 0; symbol <= 256; symbol++) sum += 2 ** -huffmanCodeOf(symbol).length;
    expect(sum).toBe(1);
  });

  it('round-trips every byte value', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(huffmanDecode(huffmanEncode(all))).toEqual(all);
    for (let i = 0; i < 256; i++) expect(huffmanDecode(huffmanEncode(Buffer.from([i, i, 65])))).toEqual(Buffer.from([i, i, 65]));
  });

  it('rejects padding longer than 7 bits, non-one padding and EOS', () => {
    expect(() => huffmanDecode(hex('ff'))).toThrow(/padding of 8 bits/);
    expect(() => huffmanDecode(hex('18'))).toThrow(/not all ones/); // "a" (00011) padded with zeros
    expect(() => huffmanDecode(hex('ffffffff'))).toThrow(/EOS/);
  });
});

describe('HPACK decoding errors', () => {
  it('rejects index 0 and indices beyond the tables', () => {
    expectHpackError(() => new HpackDecoder().decode(hex('80')), 'bad-index');
    expectHpackError(() => new HpackDecoder().decode(hex('be')), 'bad-index');
    expectHpackError(() => new HpackDecoder().decode(hex('7e00')), 'bad-index'); // literal naming dynamic index 62
  });

  it('rejects an integer over 2^32-1 and runaway continuation bytes', () => {
    expectHpackError(() => new HpackDecoder().decode(hex('ff ffffffff0f')), 'integer-overflow');
    expectHpackError(() => new HpackDecoder().decode(hex('ff 8080808080')), 'integer-overflow');
  });

  it('rejects a block cut inside an integer or a string', () => {
    expectHpackError(() => new HpackDecoder().decode(hex('ff')), 'truncated-block');
    expectHpackError(() => new HpackDecoder().decode(hex('41')), 'truncated-block');
    expectHpackError(() => new HpackDecoder().decode(hex('4105 6162')), 'truncated-block');
  });

  it('raises bad Huffman as a typed error', () => {
    expectHpackError(() => new HpackDecoder().decode(hex('0081ff 00')), 'bad-huffman');
  });

  it('rejects a size update above the announced limit, and accepts it once announced', () => {
    expectHpackError(() => new HpackDecoder().decode(hex('3fe21f')), 'table-size-over-limit'); // 4097
    const decoder = new HpackDecoder();
    decoder.allowTableSize(8192);
    decoder.decode(hex('3fe21f'));
    expect(decoder.maxTableSize).toBe(4097);
  });

  it('rejects a size update after a header field', () => {
    expectHpackError(() => new HpackDecoder().decode(hex('8220')), 'misplaced-table-size-update');
  });
});

describe('dynamic table bookkeeping', () => {
  it('a size update to 0 empties the table, and an entry larger than the table is not stored', () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    expect(decoder.tableSize).toBe(55);
    decoder.decode(hex('20 3f11')); // size 0, then back to 48 (31 + 17)
    expect(decoder.dynamicTable).toEqual([]);
    expect(decoder.maxTableSize).toBe(48);
    // custom-key: custom-header needs 55 octets > 48: the field is still emitted but not stored.
    expect(pairs(decoder, '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).toEqual([['custom-key', 'custom-header']]);
    expect(decoder.dynamicTable).toEqual([]);
  });

  it('keeps decoding past maxHeaderListBytes but drops and flags the extra fields', () => {
    const decoder = new HpackDecoder();
    const block = decoder.decode(hex('82 400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572 84'), 60);
    expect(block.fields.map((field) => field.name)).toEqual([':method']);
    expect(block.listTruncated).toBe(true);
    expect(decoder.dynamicTable).toEqual([['custom-key', 'custom-header']]);
  });
});
