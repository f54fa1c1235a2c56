import type { ExporterFanOut } from '../../sensor/exporters/create-exporters';
import { silentLogger } from '../../sensor/common/logger';
import type { SpanEnricher, SpanOrigin } from '../../sensor/pipeline/enrich/span-enricher';
import type { GenAiMetrics } from '../../sensor/pipeline/metrics';
import { PrivacyStage } from '../../sensor/pipeline/privacy/privacy-stage';
import { SpanPipeline } from '../../sensor/pipeline/span-pipeline';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';
import { genAiSpan } from '../exporters/span-fixture';

function fanOut(received: GenAiSpan[]): ExporterFanOut {
  return { exporters: [], export: async (spans) => void received.push(...spans), shutdown: async () => undefined, pendingBytes: () => 0 };
}

test('a stage that throws costs that span only: counted, logged, and the process does not see an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const received: GenAiSpan[] = [];
    let calls = 0;
    const metrics = { record: () => { if (calls++ === 0) throw new Error('boom'); } } as unknown as GenAiMetrics;
    const pipeline = new SpanPipeline({ privacy: new PrivacyStage(), metrics, exporters: fanOut(received), logger: silentLogger() });
    pipeline.submit(genAiSpan({ index: 1 }));
    pipeline.submit(genAiSpan({ index: 2 }));
    await pipeline.drain();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pipeline.stats).toMatchObject({ spansIn: 2, spansOut: 1, failures: 1 });
    expect(received).toHaveLength(1);
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('credential attributes are dropped on the way to the exporters, whatever the privacy config', async () => {
  const received: GenAiSpan[] = [];
  const pipeline = new SpanPipeline({ privacy: new PrivacyStage(), exporters: fanOut(received), logger: silentLogger() });
  await pipeline.submitAll([genAiSpan({ index: 3, extraAttributes: { 'http.request.header.authorization': 'Bearer sk-live-123' } })]);
  expect(JSON.stringify(received, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))).not.toContain('sk-live-123');
  expect(received).toHaveLength(1);
});

describe('the capture path hands spans over without a promise when the sinks can take them at once', () => {
  function offeringFanOut(received: GenAiSpan[], failFirst = false): ExporterFanOut & { exported: number } {
    let offers = 0;
    const sink = {
      exporters: [],
      exported: 0,
      export: async (spans: GenAiSpan[]) => {
        sink.exported += spans.length;
      },
      offer: (spans: GenAiSpan[]) => {
        if (failFirst && offers++ === 0) throw new Error('spool disk full');
        received.push(...spans);
      },
      shutdown: async () => undefined,
      pendingBytes: () => 0,
    };
    return sink;
  }

  test('a span is in the sink when submit returns, and nothing is left in flight to keep it alive', async () => {
    const received: GenAiSpan[] = [];
    const exporters = offeringFanOut(received);
    const pipeline = new SpanPipeline({ privacy: new PrivacyStage(), exporters, logger: silentLogger() });
    pipeline.submit(genAiSpan({ index: 4 }));
    expect(received).toHaveLength(1);
    expect(exporters.exported).toBe(0);
    expect((pipeline as unknown as { inFlight: Set<Promise<void>> }).inFlight.size).toBe(0);
    expect(pipeline.stats).toMatchObject({ spansIn: 1, spansOut: 1, failures: 0 });
  });

  test('a sink that cannot queue a span costs that span only, counted as a failure, with no exception to the caller', async () => {
    const received: GenAiSpan[] = [];
    const pipeline = new SpanPipeline({ privacy: new PrivacyStage(), exporters: offeringFanOut(received, true), logger: silentLogger() });
    expect(() => pipeline.submit(genAiSpan({ index: 5 }))).not.toThrow();
    pipeline.submit(genAiSpan({ index: 6 }));
    await pipeline.drain();
    expect(pipeline.stats).toMatchObject({ spansIn: 2, spansOut: 2, failures: 1 });
    expect(received.map((span) => span.spanId)).toEqual([genAiSpan({ index: 6 }).spanId]);
  });
});

describe('a group of spans goes through each stage before the next', () => {
  function offeringSink(offers: GenAiSpan[][], failOffers = 0): ExporterFanOut {
    let failures = failOffers;
    return {
      exporters: [],
      export: async () => {
        throw new Error('the capture path offers');
      },
      offer: (spans: GenAiSpan[]) => {
        if (failures-- > 0) throw new Error('spool disk full');
        offers.push([...spans]);
      },
      shutdown: async () => undefined,
      pendingBytes: () => 0,
    };
  }

  test('every span of the group reaches the sinks in one offer, in order, before submitGroup returns', () => {
    const offers: GenAiSpan[][] = [];
    const pipeline = new SpanPipeline({ privacy: new PrivacyStage(), exporters: offeringSink(offers), logger: silentLogger() });
    const spans = [1, 2, 3].map((index) => genAiSpan({ index, extraAttributes: { 'app.secret_token': `secret-${index}` } }));
    pipeline.submitGroup(spans, [undefined, undefined, undefined]);
    expect(offers).toHaveLength(1);
    expect(offers[0].map((span) => span.spanId)).toEqual(spans.map((span) => span.spanId));
    // Privacy ran on each: the credential-named attribute is gone or scrubbed in every one.
    expect(JSON.stringify(offers[0], (_key, value) => (typeof value === 'bigint' ? value.toString() : value))).not.toMatch(/secret-[123]/);
    expect(pipeline.stats).toMatchObject({ spansIn: 3, spansOut: 3, failures: 0 });
    expect((pipeline as unknown as { inFlight: Set<Promise<void>> }).inFlight.size).toBe(0);
  });

  test('a stage that throws for one span of the group costs that span only', () => {
    const offers: GenAiSpan[][] = [];
    let recorded = 0;
    const metrics = { record: () => { if (recorded++ === 1) throw new Error('boom'); } } as unknown as GenAiMetrics;
    const pipeline = new SpanPipeline({ privacy: new PrivacyStage(), metrics, exporters: offeringSink(offers), logger: silentLogger() });
    const spans = [7, 8, 9].map((index) => genAiSpan({ index }));
    pipeline.submitGroup(spans, [undefined, undefined, undefined]);
    expect(offers.flat().map((span) => span.spanId)).toEqual([spans[0].spanId, spans[2].spanId]);
    expect(pipeline.stats).toMatchObject({ spansIn: 3, spansOut: 2, failures: 1 });
  });

  test('a sink that cannot queue the group counts each of its spans as a failure, and the next group goes through', () => {
    const offers: GenAiSpan[][] = [];
    const pipeline = new SpanPipeline({ privacy: new PrivacyStage(), exporters: offeringSink(offers, 1), logger: silentLogger() });
    expect(() => pipeline.submitGroup([genAiSpan({ index: 10 }), genAiSpan({ index: 11 })], [undefined, undefined])).not.toThrow();
    pipeline.submitGroup([genAiSpan({ index: 12 })], [undefined]);
    expect(offers.flat().map((span) => span.spanId)).toEqual([genAiSpan({ index: 12 }).spanId]);
    expect(pipeline.stats.failures).toBe(2);
  });

  test('a span whose process context is not read yet goes on in the background; the rest of its group does not wait', async () => {
    const offers: GenAiSpan[][] = [];
    let reads = 0;
    const enricher = {
      enrichNow: (span: GenAiSpan, origin?: SpanOrigin) => (origin?.pid === 42 ? undefined : span),
      enrich: async (span: GenAiSpan) => {
        reads++;
        return { ...span, attributes: { ...span.attributes, 'process.read': true } };
      },
    } as unknown as SpanEnricher;
    const pipeline = new SpanPipeline({ enricher, privacy: new PrivacyStage(), exporters: offeringSink(offers), logger: silentLogger() });
    const spans = [20, 21, 22].map((index) => genAiSpan({ index }));
    pipeline.submitGroup(spans, [{ pid: 7 }, { pid: 42 }, { pid: 7 }]);
    expect(offers.flat().map((span) => span.spanId)).toEqual([spans[0].spanId, spans[2].spanId]);
    await pipeline.drain();
    expect(reads).toBe(1);
    expect(offers.flat().map((span) => span.spanId)).toEqual([spans[0].spanId, spans[2].spanId, spans[1].spanId]);
    expect(offers.flat()[2].attributes['process.read']).toBe(true);
    expect(pipeline.stats).toMatchObject({ spansIn: 3, spansOut: 3, failures: 0 });
  });
});
