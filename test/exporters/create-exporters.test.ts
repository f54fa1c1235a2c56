import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum, type PutMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { Registry } from 'prom-client';
import { exportersConfigSchema } from '../../sensor/exporters/config';
import { createExporters } from '../../sensor/exporters/create-exporters';
import { otlpSpansOf } from './otlp-json';
import { genAiSpan } from './span-fixture';

describe('createExporters', () => {
  it('offer hands spans to every sink at once: a sink with no offer gets them through export, and one that cannot queue them is named in the error after the others have them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-fanout-offer-'));
    try {
      const config = exportersConfigSchema.parse({ file: { enabled: true, path: path.join(dir, 'spans.jsonl') }, batching: { maxBatch: 100, maxDelayMs: 10 } });
      const exportedOnly: string[] = [];
      const exportOnly = { name: 'export-only', export: async (spans: Array<{ spanId: string }>) => void exportedOnly.push(...spans.map((span) => span.spanId)), shutdown: async () => undefined };
      const refusing = { name: 'refusing', export: async () => undefined, offer: () => { throw new Error('spool disk full'); }, shutdown: async () => undefined };
      const fanOut = createExporters(config, { additional: [exportOnly, refusing] });
      const spans = [genAiSpan({ index: 1 }), genAiSpan({ index: 2 })];
      expect(() => fanOut.offer!(spans)).toThrow(/not queued by refusing/);
      await fanOut.shutdown(5000);
      expect(exportedOnly).toEqual(spans.map((span) => span.spanId));
      const written = fs.readFileSync(path.join(dir, 'spans.jsonl'), 'utf8').trim().split('\n').flatMap((line) => otlpSpansOf(JSON.parse(line)));
      expect(written.map((span) => span.spanId)).toEqual(spans.map((span) => span.spanId));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fans spans out to the file sink and to CloudWatch aggregates, each through its own spool', async () => {
    const cloudwatch = mockClient(CloudWatchClient);
    cloudwatch.on(PutMetricDataCommand).resolves({});
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-fanout-'));
    try {
      const config = exportersConfigSchema.parse({
        file: { enabled: true, path: path.join(dir, 'out', 'spans.jsonl') },
        cloudwatch: { enabled: true, region: 'eu-west-1', intervalSeconds: 3600 },
        spool: { dir: path.join(dir, 'spool') },
        batching: { maxBatch: 10, maxDelayMs: 10 },
      });
      const registry = new Registry();
      const fanOut = createExporters(config, { registry });
      expect(fanOut.exporters.map((e) => e.name)).toEqual(['file', 'cloudwatch']);
      fanOut.export([genAiSpan({ index: 1, inputTokens: 5, outputTokens: 2 }), genAiSpan({ index: 2, durationMs: 1500 })]);
      await fanOut.shutdown(5000);

      const lines = fs.readFileSync(path.join(dir, 'out', 'spans.jsonl'), 'utf8').trim().split('\n');
      expect(lines.flatMap((line) => otlpSpansOf(JSON.parse(line)))).toHaveLength(2);
      expect(fs.readdirSync(path.join(dir, 'spool')).sort()).toEqual(['cloudwatch', 'file']);
      const datums = cloudwatch.commandCalls(PutMetricDataCommand).flatMap((call) => call.args[0].input.MetricData!);
      expect(datums.find((d) => d.MetricName === 'Calls' && d.Dimensions!.length === 2)!.Value).toBe(2);
      expect(datums.find((d) => d.MetricName === 'SlaBreaches' && d.Dimensions!.length === 2)!.Value).toBe(1);
      expect(await registry.metrics()).toMatch(/sightline_exporter_items_total\{exporter="file",outcome="delivered"\} 2/);
    } finally {
      cloudwatch.restore();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cuts S3 objects at s3.maxBatchBytes and other sinks at batching.maxBatchBytes', async () => {
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).resolves({});
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-fanout-'));
    try {
      const config = exportersConfigSchema.parse({
        file: { enabled: true, path: path.join(dir, 'spans.jsonl') },
        s3: { enabled: true, bucket: 'spans', region: 'eu-west-1', maxBatchBytes: 64 * 1024 },
        batching: { maxBatch: 1000, maxDelayMs: 50, maxBatchBytes: 8 * 1024 },
      });
      const spans = Array.from({ length: 100 }, (_, i) => genAiSpan({ index: i + 1 }));
      const spanBytes = JSON.stringify({ ...spans[0], startTimeUnixNano: '', endTimeUnixNano: '' }).length;
      expect(spanBytes * spans.length).toBeLessThan(64 * 1024); // all spans fit one S3 object ...
      expect(spanBytes * spans.length).toBeGreaterThan(4 * 8 * 1024); // ... and make several file batches
      const fanOut = createExporters(config);
      await fanOut.export(spans);
      await fanOut.shutdown(5000);

      const puts = s3.commandCalls(PutObjectCommand);
      expect(puts).toHaveLength(1);

      // A batch never takes more than a quarter of its queue: with a 64 KiB in-memory queue, S3 objects hold 16 KiB.
      const small = createExporters(exportersConfigSchema.parse({ ...config, file: { enabled: false }, spool: { memoryMaxBytes: 64 * 1024 } }));
      await small.export(spans);
      await small.shutdown(5000);
      expect(s3.commandCalls(PutObjectCommand).length - 1).toBeGreaterThanOrEqual(Math.ceil((spanBytes * spans.length) / (16 * 1024)));
      const fileBatches = fs.readFileSync(path.join(dir, 'spans.jsonl'), 'utf8').trim().split('\n');
      expect(fileBatches.length).toBeGreaterThanOrEqual(4);
      expect(fileBatches.flatMap((line) => otlpSpansOf(JSON.parse(line)))).toHaveLength(100);
    } finally {
      s3.restore();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts every call once in CloudWatch when a PutMetricData call fails and its batch is retried', async () => {
    const cloudwatch = mockClient(CloudWatchClient);
    let calls = 0;
    const delivered: MetricDatum[] = [];
    cloudwatch.on(PutMetricDataCommand).callsFake((input: PutMetricDataCommandInput) => {
      // The second call is throttled once; a retry of a batch that spans several calls would resend the first.
      if (++calls === 2) throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $retryable: { throttling: true } });
      delivered.push(...input.MetricData!);
      return {};
    });
    try {
      const config = exportersConfigSchema.parse({
        cloudwatch: { enabled: true, region: 'eu-west-1', intervalSeconds: 3600, maxDimensionValues: 1000 },
        retry: { initialDelayMs: 1, maxDelayMs: 5 },
      });
      const fanOut = createExporters(config);
      // 300 models: 300 aggregates in one interval, more datums than one PutMetricData call takes.
      const spans = Array.from({ length: 300 }, (_, i) => genAiSpan({ index: i + 1, requestModel: `model-${i}`, inputTokens: 10, outputTokens: 2 }));
      await fanOut.export(spans);
      await fanOut.shutdown(10_000);
      const total = (metricName: string, dimensions: number) =>
        delivered.filter((d) => d.MetricName === metricName && d.Dimensions!.length === dimensions).reduce((sum, d) => sum + d.Value!, 0);
      expect(calls).toBeGreaterThan(2);
      // Per model, per workload and account-wide, each call and token is counted exactly once.
      expect([total('Calls', 0), total('Calls', 2)]).toEqual([300, 300]);
      expect(total('TotalTokens', 0)).toBeGreaterThan(0);
      expect(total('TotalTokens', 3)).toBe(total('TotalTokens', 0));
    } finally {
      cloudwatch.restore();
    }
  });
});
