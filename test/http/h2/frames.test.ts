import {
  FrameFlag,
  FrameType,
  Http2FrameError,
  Http2FrameReader,
  encodeFrame,
  parseData,
  parseGoaway,
  parseHeaders,
  parsePing,
  parsePriority,
  parsePushPromise,
  parseRstStream,
  parseSettings,
  parseWindowUpdate,
  type Http2Frame,
} from '../../../sensor/http/h2/frames';

const frameOf = (type: number, flags: number, streamId: number, payload: Buffer): Http2Frame => ({
  type,
  flags,
  streamId,
  payload,
  startTsMs: 0,
  endTsMs: 0,
});

function sampleStream(): Buffer {
  const padded = Buffer.concat([Buffer.from([3]), Buffer.from('hello'), Buffer.alloc(3)]);
  return Buffer.concat([
    encodeFrame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 1, 0, 0, 0x10, 0])),
    encodeFrame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, Buffer.from([0x82])),
    encodeFrame(FrameType.DATA, FrameFlag.PADDED | FrameFlag.END_STREAM, 1, padded),
    encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8, 7)),
    encodeFrame(FrameType.DATA, 0, 3, Buffer.alloc(0)),
  ]);
}

function readAll(reader: Http2FrameReader, data: Buffer, tsMs: number): Http2Frame[] {
  const frames: Http2Frame[] = [];
  reader.push(data, tsMs, (frame) => frames.push(frame));
  return frames;
}

const summary = (frames: Http2Frame[]) => frames.map((f) => [f.type, f.flags, f.streamId, f.payload.toString('hex')]);

describe('Http2FrameReader', () => {
  it('yields the same frames whatever the split point, for every split', () => {
    const bytes = sampleStream();
    const whole = readAll(new Http2FrameReader(), bytes, 1);
    expect(summary(whole).map((f) => f[0])).toEqual([FrameType.SETTINGS, FrameType.HEADERS, FrameType.DATA, FrameType.PING, FrameType.DATA]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const reader = new Http2FrameReader();
      const frames = [...readAll(reader, bytes.subarray(0, cut), 1), ...readAll(reader, bytes.subarray(cut), 2)];
      expect(summary(frames)).toEqual(summary(whole));
      expect(reader.bufferedBytes).toBe(0);
    }
  });

  it('reassembles frames fed one byte at a time and stamps first- and last-byte times', () => {
    const bytes = sampleStream();
    const reader = new Http2FrameReader();
    const frames: Http2Frame[] = [];
    bytes.forEach((byte, i) => frames.push(...readAll(reader, Buffer.from([byte]), 1000 + i)));
    expect(summary(frames)).toEqual(summary(readAll(new Http2FrameReader(), bytes, 0)));
    // The SETTINGS frame is bytes 0..14.
    expect(frames[0].startTsMs).toBe(1000);
    expect(frames[0].endTsMs).toBe(1014);
    expect(frames[1].startTsMs).toBe(1015);
  });

  it('rejects a frame above SETTINGS_MAX_FRAME_SIZE and accepts it once the peer allows more', () => {
    const big = encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(20000));
    expect(() => readAll(new Http2FrameReader(), big.subarray(0, 9), 0)).toThrow(Http2FrameError);
    expect(() => readAll(new Http2FrameReader(), big.subarray(0, 9), 0)).toThrow(/20000 bytes exceeds SETTINGS_MAX_FRAME_SIZE 16384/);
    const reader = new Http2FrameReader();
    reader.allowFrameSize(32768);
    expect(readAll(reader, big, 0)[0].payload.length).toBe(20000);
  });

  it('keeps the bytes after a frame whose handler throws, for discard() to count', () => {
    const bytes = sampleStream();
    const reader = new Http2FrameReader();
    const seen: number[] = [];
    expect(() =>
      reader.push(bytes, 0, (frame) => {
        seen.push(frame.type);
        if (frame.type === FrameType.HEADERS) throw new Error('stop');
      }),
    ).toThrow('stop');
    expect(seen).toEqual([FrameType.SETTINGS, FrameType.HEADERS]);
    expect(reader.discard()).toBe(bytes.length - 15 - 10);
  });

  it('discards buffered bytes and reports how many', () => {
    const reader = new Http2FrameReader();
    readAll(reader, Buffer.from([0, 0, 5, 0, 0]), 0);
    expect(reader.discard()).toBe(5);
    expect(reader.bufferedBytes).toBe(0);
  });
});

describe('frame payload parsers', () => {
  it('strips DATA padding', () => {
    const payload = Buffer.concat([Buffer.from([2]), Buffer.from('abc'), Buffer.alloc(2)]);
    expect(parseData(frameOf(FrameType.DATA, FrameFlag.PADDED | FrameFlag.END_STREAM, 1, payload))).toEqual({
      data: Buffer.from('abc'),
      endStream: true,
    });
  });

  it('rejects padding longer than the payload', () => {
    expect(() => parseData(frameOf(FrameType.DATA, FrameFlag.PADDED, 1, Buffer.from([5, 1, 2])))).toThrow(/padding of 5 bytes/);
    expect(() => parseData(frameOf(FrameType.DATA, FrameFlag.PADDED, 1, Buffer.alloc(0)))).toThrow(Http2FrameError);
  });

  it('strips HEADERS padding and priority fields', () => {
    const payload = Buffer.concat([Buffer.from([1]), Buffer.from([0x80, 0, 0, 3, 15]), Buffer.from([0x82, 0x84]), Buffer.alloc(1)]);
    const parsed = parseHeaders(frameOf(FrameType.HEADERS, FrameFlag.PADDED | FrameFlag.PRIORITY | FrameFlag.END_HEADERS, 5, payload));
    expect(parsed).toEqual({ fragment: Buffer.from([0x82, 0x84]), endStream: false, endHeaders: true });
    expect(() => parseHeaders(frameOf(FrameType.HEADERS, FrameFlag.PRIORITY, 5, Buffer.alloc(4)))).toThrow(Http2FrameError);
  });

  it('reads the promised stream of a PUSH_PROMISE', () => {
    const payload = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from([0x82])]);
    expect(parsePushPromise(frameOf(FrameType.PUSH_PROMISE, FrameFlag.END_HEADERS, 1, payload))).toEqual({
      promisedStreamId: 2,
      fragment: Buffer.from([0x82]),
      endHeaders: true,
    });
  });

  it('reads SETTINGS and rejects bad ones', () => {
    const payload = Buffer.from([0, 1, 0, 0, 0x10, 0, 0, 5, 0, 0, 0x80, 0]);
    expect(parseSettings(frameOf(FrameType.SETTINGS, 0, 0, payload))).toEqual([
      { id: 1, value: 4096 },
      { id: 5, value: 32768 },
    ]);
    expect(() => parseSettings(frameOf(FrameType.SETTINGS, 0, 0, Buffer.alloc(5)))).toThrow(/not a multiple of 6/);
    expect(() => parseSettings(frameOf(FrameType.SETTINGS, 0, 1, Buffer.alloc(0)))).toThrow(/on stream 1/);
    expect(() => parseSettings(frameOf(FrameType.SETTINGS, FrameFlag.ACK, 0, Buffer.alloc(6)))).toThrow(/ACK with a payload/);
  });

  it('reads RST_STREAM, GOAWAY, WINDOW_UPDATE, PING and PRIORITY, checking their lengths', () => {
    expect(parseRstStream(frameOf(FrameType.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8])))).toEqual({ errorCode: 8 });
    expect(() => parseRstStream(frameOf(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3)))).toThrow(/expected 4/);
    const goaway = parseGoaway(frameOf(FrameType.GOAWAY, 0, 0, Buffer.from([0x80, 0, 0, 7, 0, 0, 0, 2, 0x6f, 0x6b])));
    expect(goaway).toEqual({ lastStreamId: 7, errorCode: 2, debugData: Buffer.from('ok') });
    expect(() => parseGoaway(frameOf(FrameType.GOAWAY, 0, 0, Buffer.alloc(7)))).toThrow(Http2FrameError);
    expect(parseWindowUpdate(frameOf(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x80, 0, 1, 0])))).toEqual({ increment: 256 });
    expect(parsePing(frameOf(FrameType.PING, FrameFlag.ACK, 0, Buffer.alloc(8))).ack).toBe(true);
    expect(() => parsePing(frameOf(FrameType.PING, 0, 0, Buffer.alloc(9)))).toThrow(Http2FrameError);
    expect(parsePriority(frameOf(FrameType.PRIORITY, 0, 3, Buffer.from([0x80, 0, 0, 1, 255])))).toEqual({ dependsOn: 1, exclusive: true, weight: 256 });
  });
});
