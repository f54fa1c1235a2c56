import type { ExporterFanOut } from '../../sensor/exporters/create-exporters';
import { silentLogger } from '../../sensor/common/logger';
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
