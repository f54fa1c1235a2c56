import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
const S3rver = require('s3rver');
import { S3SpanExporter, type SpanRow } from '../../sensor/exporters/s3-exporter';
import { CostCalculator } from '../../sensor/pipeline/cost';
import { genAiSpan } from './span-fixture';

const BUCKET = 'sightline-spans';
let server: { run(): Promise<{ port: number }>; close(): Promise<void> };
let dir: string;
let endpoint: string;

function client(): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-s3-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('S3SpanExporter', () => {
  it('writes gzip JSON lines of flat rows under dt=/hour= partitions', async () => {
    const reader = client();
    const exporter = new S3SpanExporter({ bucket: BUCKET, prefix: 'tenant-a', client: client() });
    const cost = new CostCalculator();
    const at1345 = Date.UTC(2026, 10, 25, 13, 45, 0);
    const at1402 = Date.UTC(2026, 10, 25, 14, 2, 0);
    const chat = genAiSpan({ index: 1, startMs: at1345, durationMs: 1250, inputTokens: 1000, outputTokens: 500, responseModel: 'gpt-4o-2024-08-06' });
    const failed = genAiSpan({ index: 2, startMs: at1345 + 10, provider: 'aws.bedrock', requestModel: 'anthropic.claude-3-haiku-20240307-v1:0', statusCode: 403, errorType: 'AccessDeniedException' });
    const later = genAiSpan({ index: 3, startMs: at1402, workload: 'billing' });
    [chat, failed, later].forEach((span) => cost.applyCost(span));
    await exporter.export([chat, failed, later]);

    const listed = await reader.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'tenant-a/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!).sort();
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^tenant-a\/spans\/dt=2026-11-25\/hour=13\/\w+-[0-9a-f]+\.jsonl\.gz$/);
    expect(keys[1]).toMatch(/^tenant-a\/spans\/dt=2026-11-25\/hour=14\/\w+-[0-9a-f]+\.jsonl\.gz$/);

    const rowsOf = async (key: string): Promise<SpanRow[]> => {
      const object = await reader.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const text = gunzipSync(Buffer.from(await object.Body!.transformToByteArray())).toString('utf8');
      return text.trim().split('\n').map((line) => JSON.parse(line));
    };
    const hour13 = await rowsOf(keys[0]);
    expect(hour13).toHaveLength(2);
    expect(hour13[0]).toEqual({
      trace_id: chat.traceId,
      span_id: chat.spanId,
      parent_span_id: null,
      name: 'chat gpt-4o',
      start_time: '2026-11-25T13:45:00.000Z',
      end_time: '2026-11-25T13:45:01.250Z',
      duration_ms: 1250,
      provider: 'openai',
      operation: 'chat',
      request_model: 'gpt-4o',
      response_model: 'gpt-4o-2024-08-06',
      input_tokens: 1000,
      output_tokens: 500,
      total_tokens: 1500,
      cost_usd: expect.closeTo((1000 * 2.5 + 500 * 10) / 1e6, 12),
      status_code: 200,
      error_type: null,
      workload: 'checkout',
      namespace: 'shop',
      cluster: 'prod-eu',
      pod: 'checkout-7d9f-abcde',
      source: 'ebpf',
      attributes: expect.any(String),
    });
    expect(JSON.parse(hour13[0].attributes).span['gen_ai.request.model']).toBe('gpt-4o');
    expect(hour13[1]).toMatchObject({ provider: 'aws.bedrock', status_code: 403, error_type: 'AccessDeniedException', input_tokens: null, cost_usd: null });
    expect((await rowsOf(keys[1])).map((row) => row.workload)).toEqual(['billing']);

    // A retried batch writes the same keys, so rows are not duplicated.
    await exporter.export([chat, failed, later]);
    const relisted = await reader.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'tenant-a/' }));
    expect((relisted.Contents ?? []).map((o) => o.Key!).sort()).toEqual(keys);
    await exporter.shutdown();
    reader.destroy();
  });
});

test('every column of an S3 span row is a column of the Glue table, in the same order', () => {
  const { SPAN_COLUMNS } = require('../../sensor/common/telemetry-contract') as typeof import('../../sensor/common/telemetry-contract');
  const { toSpanRow } = require('../../sensor/exporters/s3-exporter') as typeof import('../../sensor/exporters/s3-exporter');
  const { genAiSpan } = require('./span-fixture') as typeof import('./span-fixture');
  expect(Object.keys(toSpanRow(genAiSpan({ index: 1 })))).toEqual(SPAN_COLUMNS.map((column) => column.name));
});
