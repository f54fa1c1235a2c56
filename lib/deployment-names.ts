import { createHash } from 'node:crypto';
import { OPERATOR_ROLE_NAME } from '../control-plane/contract';

/**
 * The names CloudFormation stacks and named resources get. Two data planes can share an account and region when
 * their `sightline:deployment` names differ; every sensor stack is named after its cluster, so each workload cluster
 * has its own stack and deploying to a second cluster never replaces the first one's.
 */

export interface DeploymentNames {
  /** Stack id (and CloudFormation stack name) of the data plane. */
  readonly dataPlaneStackId: string;
  /** Glue database the span table lives in (lower case, `_`). */
  readonly glueDatabase: string;
  /** Athena workgroup of the saved queries. */
  readonly athenaWorkGroup: string;
  /** Prefix of every alarm name. */
  readonly alarmPrefix: string;
  /** Stack id of the sensor stack on `clusterName`. */
  sensorStackId(clusterName: string): string;
  /** The vendor's operator role in the data-plane account. */
  readonly operatorRoleName: string;
  /** The vendor's operator role of the sensor stack on `clusterName` (IAM names are per account, stacks per cluster). */
  sensorOperatorRoleName(clusterName: string): string;
}

/** What `sightline:deployment` accepts: it ends up in stack, Glue, Athena and alarm names. */
export const DEPLOYMENT_NAME = /^[a-z][a-z0-9-]{0,19}$/;

/** EKS cluster names: letters, digits, `-` and `_`, starting with a letter or digit, at most 100 characters. */
const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;

export function deploymentNames(deployment?: string): DeploymentNames {
  if (deployment !== undefined && !DEPLOYMENT_NAME.test(deployment)) {
    throw new Error(`context sightline:deployment: "${deployment}" must be 1 to 20 lower-case letters, digits or "-", starting with a letter`);
  }
  const suffix = deployment === undefined ? '' : `-${deployment}`;
  return {
    dataPlaneStackId: `SightlineDataPlane${suffix}`,
    glueDatabase: deployment === undefined ? 'sightline' : `sightline_${deployment.replace(/-/g, '_')}`,
    athenaWorkGroup: `sightline${suffix}`,
    alarmPrefix: `Sightline${suffix}`,
    operatorRoleName: `${OPERATOR_ROLE_NAME}${suffix}`,
    sensorOperatorRoleName(clusterName: string): string {
      const name = `${OPERATOR_ROLE_NAME}-sensor-${clusterName.replace(/_/g, '-')}`;
      // IAM role names: at most 64 characters. Long or "_" names keep a short hash of the cluster name, as stack ids do.
      if (name.length <= 64 && !clusterName.includes('_')) return name;
      const hash = createHash('sha256').update(clusterName).digest('hex').slice(0, 6);
      return `${name.slice(0, 57)}-${hash}`;
    },
    sensorStackId(clusterName: string): string {
      if (!EKS_CLUSTER_NAME.test(clusterName)) {
        throw new Error(`sensor stack: "${clusterName}" is not an EKS cluster name (letters, digits, "-" and "_", at most 100 characters)`);
      }
      // CloudFormation stack names take no "_"; EKS names do. A name with "_" gets a short hash of itself, so "a_b"
      // and "a-b" still get stacks of their own.
      if (!clusterName.includes('_')) return `SightlineSensor-${clusterName}`;
      const hash = createHash('sha256').update(clusterName).digest('hex').slice(0, 6);
      return `SightlineSensor-${clusterName.replace(/_/g, '-')}-${hash}`;
    },
  };
}
