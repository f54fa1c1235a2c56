import { exportersConfigSchema } from '../../sensor/exporters/config';

function messages(input: unknown): string[] {
  const result = exportersConfigSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
}

describe('exportersConfigSchema', () => {
  it('has a default for everything', () => {
    const config = exportersConfigSchema.parse({});
    expect(config.s3).toEqual({ enabled: false, prefix: '', forcePathStyle: false, maxBatchBytes: 32 * 1024 * 1024, maxWaitSeconds: 60 });
    expect(config.cloudwatch).toMatchObject({ enabled: false, namespace: 'Sightline', intervalSeconds: 60 });
    expect(config.batching).toEqual({ maxBatch: 512, maxDelayMs: 1000, maxBatchBytes: 1024 * 1024 });
    expect(config.retry).toEqual({ initialDelayMs: 500, maxDelayMs: 30_000 });
    expect(config.spool.maxBytes).toBe(256 * 1024 * 1024);
  });

  it('names the missing field of an enabled sink', () => {
    expect(messages({ s3: { enabled: true } })).toEqual(['exporters.s3.bucket is required when exporters.s3.enabled is true']);
    expect(messages({ timestream: { enabled: true, database: 'db' } })).toEqual(['exporters.timestream.table is required when exporters.timestream.enabled is true']);
    expect(messages({ otlp: { enabled: true }, file: { enabled: true } })).toEqual([
      'exporters.otlp.endpoint is required when exporters.otlp.enabled is true',
      'exporters.file.path is required when exporters.file.enabled is true',
    ]);
    expect(messages({ s3: { enabled: false } })).toEqual([]);
  });

  it('accepts an S3-compatible endpoint and rejects bad values', () => {
    const config = exportersConfigSchema.parse({ s3: { enabled: true, bucket: 'b', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true } });
    expect(config.s3).toMatchObject({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
    expect(messages({ batching: { maxBatch: 0 } })).toHaveLength(1);
    expect(messages({ retry: { initialDelayMs: 5000, maxDelayMs: 100 } })).toEqual(['exporters.retry.initialDelayMs must not exceed exporters.retry.maxDelayMs']);
  });
});
