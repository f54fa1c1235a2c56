/**
 * The Sightline CDK app. `sightline:topology` (context) selects the stacks; see docs/deploy.md.
 * With no context at all it synthesizes the all-in-one topology, environment-agnostic, offline.
 * cdk-nag's AWS Solutions checks run on every synth, so the customer sees any finding the team has not acknowledged.
 */
import { Annotations, App, Duration, Stack, Validations, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DataPlaneAccountStack } from '../lib/data-plane-account-stack';
import { ControlPlaneStack } from '../lib/control-plane-stack';
import { DataPlaneStack } from '../lib/data-plane-stack';
import { CONTROL_PLANE_STACK } from '../control-plane/store/tables';
import { readDeploymentContext, releaseRepositoryOf, type DeploymentContext } from '../lib/deployment-context';
import type { OperatorAccessOptions } from '../lib/constructs/operator-access';
import { deploymentNames } from '../lib/deployment-names';
import { SensorStack } from '../lib/sensor-stack';

/** Feature flags the stacks rely on; set in code so tests and `cdk synth` build the same templates. */
export const FEATURE_FLAGS: Record<string, unknown> = {
  // Grant S3 log delivery through the bucket policy, so the access-log bucket can keep ACLs disabled.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  // The all-in-one sensor stack references the data-plane cluster; keep the producer protected.
  '@aws-cdk/core:defaultCrossStackReferences': 'strong',
};

/** The image by tag can change under a running fleet; by digest it is exactly what was tested (and what the control plane rolls out). */
function warnUnlessPinned(stacks: Stack[], image: string | undefined): void {
  if (image === undefined || image.includes('@sha256:')) return;
  for (const stack of stacks) {
    Annotations.of(stack).addWarningV2('sightline:image-not-pinned',
      `sightline:image "${image}" is a tag: pin it by digest (${image.split(':')[0]}@sha256:...) so every node runs the image you tested.`);
  }
}

function dataPlaneProps(context: DeploymentContext, env: Environment | undefined) {
  return {
    env,
    image: context['sightline:image'],
    timestream: context['sightline:timestream'],
    slaMs: context['sightline:slaMs'],
    tokenBudgetPerHour: context['sightline:tokenBudgetPerHour'],
    alarmEmail: context['sightline:alarmEmail'],
    workloadAccounts: context['sightline:workloadAccounts'],
    apiAccessCidrs: context['sightline:apiAccessCidrs'],
    gatewayClientCidrs: context['sightline:gatewayClientCidrs'],
    maxAzs: context['sightline:maxAzs'],
    natGatewayPerAz: context['sightline:natGatewayPerAz'],
    interfaceEndpoints: context['sightline:interfaceEndpoints'],
    timestreamIngestCell: context['sightline:timestreamIngestCell'],
    objectLockRetention: context['sightline:objectLockDays'] === undefined ? undefined : Duration.days(context['sightline:objectLockDays']),
    deployment: context['sightline:deployment'],
    athenaScanLimitGiB: context['sightline:athenaScanLimitGiB'],
    sensorClusters: context['sightline:sensorClusters'].map((entry) => {
      const [name, account] = entry.split('@');
      return { name, account };
    }),
    gatewayCertificateGeneration: context['sightline:gatewayCertificateGeneration'],
  };
}

/** The vendor's operator access, when both flags name it; undefined otherwise (nothing of it is synthesized). */
function operatorAccessOf(context: DeploymentContext): OperatorAccessOptions | undefined {
  const controlPlaneAccount = context['sightline:controlPlaneAccount'];
  const externalId = context['sightline:externalId'];
  const releaseRepository = releaseRepositoryOf(context);
  if (controlPlaneAccount === undefined || externalId === undefined || releaseRepository === undefined) return undefined;
  return { controlPlaneAccount, externalId, releaseRepository };
}

export function buildApp(app: App): App {
  for (const [flag, value] of Object.entries(FEATURE_FLAGS)) {
    if (app.node.tryGetContext(flag) === undefined) app.node.setContext(flag, value);
  }
  const context = readDeploymentContext(app.node);
  const names = deploymentNames(context['sightline:deployment']);
  const region = context['sightline:region'];
  const dataPlaneEnv: Environment | undefined = context['sightline:dataPlaneAccount'] !== undefined || region !== undefined
    ? { account: context['sightline:dataPlaneAccount'], region }
    : undefined;

  const operatorAccess = operatorAccessOf(context);
  const stacks: Stack[] = [];
  switch (context['sightline:topology']) {
    case 'all-in-one': {
      const dataPlane = new DataPlaneStack(app, names.dataPlaneStackId, {
        ...dataPlaneProps(context, dataPlaneEnv),
        sensorOnGatewayCluster: true,
        description: 'Sightline all-in-one: data plane and gateway; the sensor runs in the same cluster',
        // One cluster: the data-plane stack opens both workloads to the vendor.
        operatorAccess: operatorAccess && { ...operatorAccess, workloads: ['gateway', 'sensor'] },
      });
      const sensor = new SensorStack(app, names.sensorStackId(dataPlane.gateway.clusterName), {
        env: dataPlaneEnv,
        description: 'Sightline all-in-one: sensor DaemonSet on the data-plane cluster',
        cluster: dataPlane.gateway.cluster,
        gatewayEndpoint: dataPlane.gateway.chart.inClusterEndpoint,
        gatewayCredentials: dataPlane.transport.sensorCredentials(dataPlane.gateway.clusterName),
        image: dataPlane.image,
        createNamespace: false,
        // The data-plane cluster runs EKS Auto Mode: Bottlerocket nodes with SELinux enforcing.
        privileged: true,
      });
      stacks.push(dataPlane, sensor);
      break;
    }
    case 'data-plane':
      stacks.push(new DataPlaneStack(app, names.dataPlaneStackId, {
        ...dataPlaneProps(context, dataPlaneEnv),
        description: 'Sightline data plane: stores, dashboard, alarms and the gateway cluster',
        operatorAccess,
      }));
      break;
    case 'sensor': {
      const clusterName = context['sightline:clusterName']!;
      stacks.push(new SensorStack(app, names.sensorStackId(clusterName), {
        env: region === undefined ? undefined : { region },
        description: `Sightline sensor DaemonSet on the EKS cluster ${clusterName}`,
        cluster: { existingClusterName: clusterName, kubernetesVersion: context['sightline:clusterVersion'] },
        gatewayEndpoint: context['sightline:gatewayEndpoint']!,
        gatewayCredentials: { tokenSecretArn: context['sightline:gatewayTokenSecretArn']!, caSecretArn: context['sightline:gatewayCaSecretArn']! },
        gatewayServerName: context['sightline:gatewayServerName'],
        image: context['sightline:image'],
        privileged: context['sightline:sensorPrivileged'],
        operatorAccess,
      }));
      break;
    }
    case 'control-plane':
      new ControlPlaneStack(app, CONTROL_PLANE_STACK, {
        env: region === undefined ? undefined : { region },
        description: 'Sightline vendor control plane: tenant registry, releases, rollouts and their audit trail',
        alarmEmail: context['sightline:alarmEmail'],
      });
      break;
    case 'sub-account':
      new DataPlaneAccountStack(app, 'SightlineDataPlaneAccount', {
        env: region === undefined ? undefined : { region },
        description: 'Sightline: creates the data-plane sub-account in the organization',
        accountEmail: context['sightline:accountEmail']!,
        parentId: context['sightline:organizationParentId'],
      });
      break;
  }
  warnUnlessPinned(stacks, context['sightline:image']);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

if (require.main === module) {
  buildApp(new App()).synth();
}
