import { RejectedRecordsException, ThrottlingException, TimestreamWriteClient, ValidationException, WriteRecordsCommand } from '@aws-sdk/client-timestream-write';
import { mockClient } from 'aws-sdk-client-mock';
import { TimestreamExporter } from '../../sensor/exporters/timestream-exporter';
import { aggregate } from './aggregate-fixture';

const timestream = mockClient(TimestreamWriteClient);
beforeEach(() => timestream.reset());

function exporter(warnings: object[] = []) {
  return new TimestreamExporter({
    database: 'sightline',
    table: 'gen_ai_calls',
    client: new TimestreamWriteClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }),
    sleep: async () => {},
    logger: { warn: (o) => warnings.push(o), error: () => {} },
  });
}

const throttled = () => new ThrottlingException({ message: 'Rate exceeded', Message: 'Rate exceeded', $metadata: {} });

describe('TimestreamExporter', () => {
  it('writes one MULTI-measure record per aggregate', async () => {
    timestream.on(WriteRecordsCommand).resolves({ RecordsIngested: { Total: 1 } });
    await exporter().export([aggregate()]);
    const input = timestream.commandCalls(WriteRecordsCommand)[0].args[0].input;
    expect(input.DatabaseName).toBe('sightline');
    expect(input.TableName).toBe('gen_ai_calls');
    expect(input.Records).toHaveLength(1);
    const record = input.Records![0];
    expect(record.MeasureValueType).toBe('MULTI');
    expect(record.Time).toBe(String(Date.UTC(2026, 10, 25, 14, 1, 0)));
    expect(record.TimeUnit).toBe('MILLISECONDS');
    expect(record.Dimensions).toEqual([
      { Name: 'model', Value: 'gpt-4o', DimensionValueType: 'VARCHAR' },
      { Name: 'provider', Value: 'openai', DimensionValueType: 'VARCHAR' },
      { Name: 'workload', Value: 'checkout', DimensionValueType: 'VARCHAR' },
      { Name: 'namespace', Value: 'shop', DimensionValueType: 'VARCHAR' },
      { Name: 'cluster', Value: 'prod-eu', DimensionValueType: 'VARCHAR' },
    ]);
    const measures = Object.fromEntries(record.MeasureValues!.map((m) => [m.Name, [m.Value, m.Type]]));
    expect(measures).toMatchObject({
      calls: ['4', 'BIGINT'],
      errors: ['1', 'BIGINT'],
      sla_breaches: ['2', 'BIGINT'],
      duration_sum_ms: ['4400', 'DOUBLE'],
      duration_p99_ms: ['2000', 'DOUBLE'],
      input_tokens: ['1000', 'BIGINT'],
      total_tokens: ['1250', 'BIGINT'],
      cost_usd: ['0.005', 'DOUBLE'],
    });
  });

  it('leaves out empty dimensions, which Timestream refuses', async () => {
    timestream.on(WriteRecordsCommand).resolves({});
    await exporter().export([aggregate({ workload: '', namespace: '' })]);
    const names = timestream.commandCalls(WriteRecordsCommand)[0].args[0].input.Records![0].Dimensions!.map((d) => d.Name);
    expect(names).toEqual(['model', 'provider', 'cluster']);
  });

  it('sends at most 100 records per WriteRecords call', async () => {
    timestream.on(WriteRecordsCommand).resolves({});
    await exporter().export(Array.from({ length: 250 }, (_, i) => aggregate({ workload: `w${i}` })));
    const sizes = timestream.commandCalls(WriteRecordsCommand).map((call) => call.args[0].input.Records!.length);
    expect(sizes).toEqual([100, 100, 50]);
    const workloads = timestream.commandCalls(WriteRecordsCommand).flatMap((call) => call.args[0].input.Records!.map((r) => r.Dimensions![2].Value));
    expect(workloads).toEqual(Array.from({ length: 250 }, (_, i) => `w${i}`));
  });

  it('retries a throttled call and then goes on', async () => {
    timestream.on(WriteRecordsCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({});
    await exporter().export([aggregate()]);
    expect(timestream.commandCalls(WriteRecordsCommand)).toHaveLength(3);
  });

  it('gives a persistently throttled batch back for a later retry', async () => {
    timestream.on(WriteRecordsCommand).rejects(throttled());
    await expect(exporter().export([aggregate()])).rejects.toThrow('Rate exceeded');
    expect(timestream.commandCalls(WriteRecordsCommand)).toHaveLength(6);
  });

  it('counts and logs rejected records without resending the accepted ones', async () => {
    timestream
      .on(WriteRecordsCommand)
      .rejectsOnce(
        new RejectedRecordsException({
          message: 'One or more records have been rejected',
          $metadata: {},
          RejectedRecords: [{ RecordIndex: 1, Reason: 'The record timestamp is outside the time range of the memory store.' }],
        }),
      )
      .resolves({});
    const warnings: object[] = [];
    const sink = exporter(warnings);
    const outcome = await sink.export([aggregate({ workload: 'a' }), aggregate({ workload: 'b' }), aggregate({ workload: 'c' })]);
    expect(timestream.commandCalls(WriteRecordsCommand)).toHaveLength(1);
    expect(outcome).toEqual({ refusedItems: 1 });
    expect(warnings[0]).toMatchObject({ rejected: 1, written: 2, reasons: [{ index: 1 }] });
  });

  it('treats a ValidationException as permanent', async () => {
    timestream.on(WriteRecordsCommand).rejects(new ValidationException({ message: 'bad measure', Message: 'bad measure', $metadata: {} }));
    await expect(exporter().export([aggregate()])).rejects.toMatchObject({ name: 'PermanentExportError' });
  });
});
