/**
 * jsonText must write exactly what JSON.stringify writes, for every value the providers build: long strings take a
 * native shortcut when they need no escaping, so the tests aim at the characters that decide it.
 */
import { arrayText, jsonShortcutIsNative, jsonString, jsonText } from '../../sensor/span/json-text';

test('the native shortcut is what these tests exercise (the addon is built)', () => {
  expect(jsonShortcutIsNative()).toBe(true);
});

const long = (text: string, at: 'start' | 'end' = 'end') => (at === 'end' ? 'a'.repeat(300) + text : text + 'b'.repeat(300));

const STRINGS: string[] = [
  '',
  'short',
  'a "quoted" role',
  'back\\slash',
  'tab\there',
  '\u0000',
  'é日本語',
  '🎉',
  '\ud83d alone',
  long(''),
  long('"'),
  long('\\'),
  long('\n'),
  long('\u0000'),
  long('\u001f'),
  long('\u007f'),
  long('é日本語'),
  long('\u0122'), // its low byte is a quote: the native check must only ever say "escape it" for such characters
  long('\u015c'), // low byte is a backslash
  long('\u0100\u0110'), // low bytes are control characters
  long('🎉 paired surrogates'),
  long('\ud83d', 'end'), // a lone high surrogate: JSON.stringify escapes it
  long('\ude00', 'start'), // a lone low surrogate
  long('\u2028\u2029'),
];

test.each(STRINGS.map((text) => [JSON.stringify(text.slice(-12)), text]))('a string ending %s is written as JSON.stringify writes it', (_name, text) => {
  expect(jsonString(text)).toBe(JSON.stringify(text));
});

test('random strings of every length and of characters that need escaping or not are written as JSON.stringify writes them', () => {
  const alphabet = ['a', 'Z', ' ', '"', '\\', '\n', '\t', '\u0001', 'é', '日', '\u0122', '\ud83d', '\ude00', '🎉'];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let round = 0; round < 2000; round++) {
    const length = Math.floor(random() * 600);
    // Mostly plain text with now and then one special character, so both outcomes of the check are reached.
    let text = '';
    for (let i = 0; i < length; i++) text += random() < 0.995 ? 'x' : alphabet[Math.floor(random() * alphabet.length)];
    expect(jsonString(text)).toBe(JSON.stringify(text));
  }
});

test('message structures are written as JSON.stringify writes them, members without a JSON form included', () => {
  const messages = [
    { role: 'system', parts: [{ type: 'text', content: long('Answer briefly.') }] },
    { role: 'user', parts: [{ type: 'text', content: long('say "hi"\n') }], name: undefined },
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'lookup', arguments: { city: 'Paris', days: 3, exact: true, tags: ['a', undefined, null], ratio: NaN } }], finish_reason: 'tool_calls' },
    { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: long('{"temp": 21}') }], skipped: () => 1 },
    [1, -0, 1e21, 2.5, Infinity],
    Object.assign(Object.create(null), { bare: long('object without a prototype') }),
    { when: new Date(0), big: { toJSON: () => 'custom' } },
    { gone: { toJSON: () => undefined }, kept: 1, symbol: Symbol('s'), list: [{ toJSON: () => undefined }, () => 1, Symbol('t')] },
    Object.assign([1, 2], { toJSON: () => ['replaced'] }),
    // Member names that need escaping, each twice (their written form is remembered after the first).
    { 'we"ird\nname': 1, 'é日': 'x', '\ud83d': true },
    { 'we"ird\nname': 2, 'é日': 'y', '\ud83d': false },
    {},
    [],
  ];
  expect(arrayText(messages)).toBe(JSON.stringify(messages));
  expect(jsonText(messages)).toBe(JSON.stringify(messages));
  expect(jsonText(undefined)).toBe(JSON.stringify(undefined));
  expect(() => jsonText({ n: 1n })).toThrow(TypeError);
});
