import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { SpanCatalog } from '../../lib/constructs/span-catalog';
import { SPAN_COLUMNS } from '../../sensor/common/telemetry-contract';
import { nagErrors } from './support';

describe('SpanCatalog', () => {
  let stack: Stack;
  let template: Template;
  beforeAll(() => {
    stack = new Stack(new App(), 'Test');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const bucket = s3.Bucket.fromBucketName(stack, 'Bucket', 'span-bucket');
    new SpanCatalog(stack, 'Catalog', { bucket, encryptionKey: key, slaMs: 1200 });
    template = Template.fromStack(stack);
  });

  test('Glue database in the account catalog holds the table', () => {
    template.hasResourceProperties('AWS::Glue::Database', {
      CatalogId: { Ref: 'AWS::AccountId' }, DatabaseInput: Match.objectLike({ Name: 'sightline' }),
    });
    template.hasResourceProperties('AWS::Glue::Table', { DatabaseName: 'sightline' });
  });

  test('Glue table: every span column, JSON SerDe, date/hour partition projection over spans/', () => {
    const table = Object.values(template.findResources('AWS::Glue::Table'))[0] as any;
    const input = table.Properties.TableInput;
    expect(input.Name).toBe('spans');
    expect(input.StorageDescriptor.Columns.map((column: any) => column.Name)).toEqual([
      'trace_id', 'span_id', 'parent_span_id', 'name', 'start_time', 'end_time', 'duration_ms', 'provider', 'operation', 'request_model',
      'response_model', 'input_tokens', 'output_tokens', 'total_tokens', 'cost_usd', 'status_code', 'error_type',
      'workload', 'namespace', 'cluster', 'pod', 'source', 'attributes',
    ]);
    expect(input.StorageDescriptor.Columns).toHaveLength(SPAN_COLUMNS.length);
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(input.StorageDescriptor.Location).toBe('s3://span-bucket/spans/');
    expect(input.PartitionKeys.map((key: any) => key.Name)).toEqual(['dt', 'hour']);
    expect(input.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.hour.type': 'integer',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
      'storage.location.template': 's3://span-bucket/spans/dt=${dt}/hour=${hour}/',
    });
  });

  test('workgroup enforces KMS-encrypted results in the bucket and a scan cutoff', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        ResultConfiguration: {
          OutputLocation: 's3://span-bucket/athena-results/',
          EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: Match.anyValue() },
        },
      }),
    });
  });

  test('saved queries: p90 latency by model, tokens by workload, calls over the SLA', () => {
    const queries = Object.values(template.findResources('AWS::Athena::NamedQuery')).map((query: any) => query.Properties);
    expect(queries).toHaveLength(3);
    const sqlOf = (needle: string): string => queries.find((query) => query.Name.includes(needle)).QueryString;
    expect(sqlOf('latency')).toMatch(/approx_percentile\(duration_ms, 0\.9\) AS p90_ms[\s\S]*GROUP BY provider, request_model/);
    expect(sqlOf('workload')).toMatch(/sum\(total_tokens\)[\s\S]*GROUP BY cluster, namespace, workload, request_model/);
    expect(sqlOf('SLA')).toMatch(/duration_ms > 1200/);
    for (const query of queries) {
      expect(query.QueryString).toContain('"sightline"."spans"');
      expect(query.Database).toBe('sightline');
      // "Last 24 h" means that: partitions pruned to two days, rows held to the last 24 hours of start_time.
      expect(query.QueryString).toContain("dt >= date_format(current_date - interval '1' day, '%Y-%m-%d')");
      expect(query.QueryString).toContain("from_iso8601_timestamp(start_time) >= current_timestamp - interval '24' hour");
    }
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
