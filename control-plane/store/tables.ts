/**
 * The control plane's DynamoDB tables: their keys (the CDK stack creates them from these) and the environment
 * variables that carry their names to the Lambda functions and the vendor CLI.
 */
export const TABLES = {
  tenants: { env: 'SIGHTLINE_TENANTS_TABLE', output: 'TenantsTable', partitionKey: 'tenantId' },
  releases: { env: 'SIGHTLINE_RELEASES_TABLE', output: 'ReleasesTable', partitionKey: 'version' },
  channels: { env: 'SIGHTLINE_CHANNELS_TABLE', output: 'ChannelsTable', partitionKey: 'channel' },
  rollouts: {
    env: 'SIGHTLINE_ROLLOUTS_TABLE', output: 'RolloutsTable', partitionKey: 'rolloutId',
    /** Newest rollouts first: every item has `listing = "rollout"`, sorted by `createdAt`. */
    listingIndex: { name: 'byCreatedAt', partitionKey: 'listing', sortKey: 'createdAt' },
  },
  audit: {
    env: 'SIGHTLINE_AUDIT_TABLE', output: 'AuditTable', partitionKey: 'subject', sortKey: 'sequence',
    /** A tenant's history across rollouts. */
    tenantIndex: { name: 'byTenant', partitionKey: 'tenantId', sortKey: 'sequence' },
  },
} as const;

export type TableName = keyof typeof TABLES;

/** The control plane stack's name, and its output with the rollout state machine; the vendor CLI finds both here. */
export const CONTROL_PLANE_STACK = 'SightlineControlPlane';
export const STATE_MACHINE_OUTPUT = 'RolloutStateMachineArn';

/** Table names from the environment (the Lambda functions), each one required. */
export function tableNamesFromEnvironment(env: NodeJS.ProcessEnv): Record<TableName, string> {
  const names = {} as Record<TableName, string>;
  for (const [table, { env: variable }] of Object.entries(TABLES) as Array<[TableName, { env: string }]>) {
    const value = env[variable];
    if (value === undefined || value === '') throw new Error(`${variable} is not set: the control plane needs the name of its ${table} table`);
    names[table] = value;
  }
  return names;
}
