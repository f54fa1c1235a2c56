import { Aws } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ATHENA_RESULTS_PREFIX, SPAN_COLUMNS, SpanObjectPrefix } from '../../sensor/common/telemetry-contract';

export interface SpanCatalogProps {
  /** Bucket holding the span objects. */
  readonly bucket: s3.IBucket;
  /** Key of the span bucket; Athena results are encrypted with it too. */
  readonly encryptionKey: kms.IKey;
  /** Calls slower than this are listed by the "calls over the SLA" query. */
  readonly slaMs: number;
  /**
   * Glue database name; Athena queries name it, so it is a readable constant rather than generated.
   * @default 'sightline'
   */
  readonly databaseName?: string;
  /**
   * Athena workgroup name.
   * @default 'sightline'
   */
  readonly workGroupName?: string;
  /**
   * First day partition projection offers; spans before it are not queryable.
   * @default '2025-01-01'
   */
  readonly firstPartitionDay?: string;
  /**
   * Upper bound of data scanned per query, a guard against runaway cost.
   * @default 10 GiB
   */
  readonly bytesScannedCutoffPerQuery?: number;
}

/** Table name of the spans in the Glue database. */
export const SPAN_TABLE = 'spans';

/** Glue table with partition projection over the span objects, an Athena workgroup and its saved queries. */
export class SpanCatalog extends Construct {
  readonly databaseName: string;
  readonly workGroup: athena.CfnWorkGroup;
  readonly table: glue.CfnTable;
  readonly savedQueries: athena.CfnNamedQuery[];

  constructor(scope: Construct, id: string, props: SpanCatalogProps) {
    super(scope, id);
    this.databaseName = props.databaseName ?? 'sightline';
    const spanLocation = `s3://${props.bucket.bucketName}/${SpanObjectPrefix.spans}`;

    const database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: this.databaseName, description: 'Sightline LLM call spans' },
    });

    // Projection computes partitions from the key layout, so no crawler or MSCK REPAIR is ever needed.
    this.table = new glue.CfnTable(this, 'SpanTable', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: this.databaseName,
      tableInput: {
        name: SPAN_TABLE,
        description: 'One row per LLM call span, gzip JSON lines written by the Sightline gateway',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [
          { name: 'dt', type: 'string', comment: 'UTC day, yyyy-MM-dd' },
          { name: 'hour', type: 'string', comment: 'UTC hour, 00-23' },
        ],
        parameters: {
          'classification': 'json',
          'compressionType': 'gzip',
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': `${props.firstPartitionDay ?? '2025-01-01'},NOW`,
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'projection.hour.type': 'integer',
          'projection.hour.range': '0,23',
          'projection.hour.digits': '2',
          'storage.location.template': `${spanLocation}dt=\${dt}/hour=\${hour}/`,
        },
        storageDescriptor: {
          location: spanLocation,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          compressed: true,
          serdeInfo: {
            serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
            parameters: { 'ignore.malformed.json': 'true' },
          },
          columns: SPAN_COLUMNS.map((column) => ({ ...column })),
        },
      },
    });
    this.table.addResourceDependency(database);

    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: props.workGroupName ?? 'sightline',
      description: 'Queries over Sightline LLM call spans',
      recursiveDeleteOption: true,
      state: 'ENABLED',
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery ?? 10 * 1024 ** 3,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${props.bucket.bucketName}/${ATHENA_RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: props.encryptionKey.keyArn },
        },
      },
    });

    const table = `"${this.databaseName}"."${SPAN_TABLE}"`;
    // The dt predicate prunes partitions to yesterday and today; the start_time one keeps exactly the last 24 hours.
    const lastDay = `dt >= date_format(current_date - interval '1' day, '%Y-%m-%d')
  AND from_iso8601_timestamp(start_time) >= current_timestamp - interval '24' hour`;
    const queries: Array<{ id: string; name: string; description: string; sql: string }> = [
      {
        id: 'LatencyByModel',
        name: 'Sightline: p50/p90/p99 latency by model (last 24 h)',
        description: 'Latency percentiles per provider and model, slowest p90 first.',
        sql: `SELECT provider, request_model, count(*) AS calls,
  approx_percentile(duration_ms, 0.5) AS p50_ms,
  approx_percentile(duration_ms, 0.9) AS p90_ms,
  approx_percentile(duration_ms, 0.99) AS p99_ms
FROM ${table}
WHERE ${lastDay}
GROUP BY provider, request_model
ORDER BY p90_ms DESC;`,
      },
      {
        id: 'TokensByWorkload',
        name: 'Sightline: tokens and cost by workload (last 24 h)',
        description: 'Token usage and estimated cost per cluster, namespace, workload and model.',
        sql: `SELECT cluster, namespace, workload, request_model, count(*) AS calls,
  sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
  sum(total_tokens) AS total_tokens, round(sum(cost_usd), 4) AS cost_usd
FROM ${table}
WHERE ${lastDay}
GROUP BY cluster, namespace, workload, request_model
ORDER BY total_tokens DESC;`,
      },
      {
        id: 'CallsOverSla',
        name: `Sightline: calls over the ${props.slaMs} ms SLA (last 24 h)`,
        description: 'Every call slower than the SLA, slowest first, with the trace to open.',
        sql: `SELECT start_time, duration_ms, provider, request_model, response_model,
  cluster, namespace, workload, pod, status_code, error_type, input_tokens, output_tokens, trace_id, span_id
FROM ${table}
WHERE ${lastDay} AND duration_ms > ${props.slaMs}
ORDER BY duration_ms DESC
LIMIT 500;`,
      },
    ];
    this.savedQueries = queries.map((query) => {
      const named = new athena.CfnNamedQuery(this, query.id, {
        name: query.name,
        description: query.description,
        database: this.databaseName,
        workGroup: this.workGroup.ref,
        queryString: query.sql,
      });
      named.addResourceDependency(this.table);
      return named;
    });
  }
}
