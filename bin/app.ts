/**
 * The Sightline CDK app. `sightline:topology` (context) selects the stacks; see docs/deploy.md.
 * With no context at all it synthesizes the all-in-one topology, environment-agnostic, offline.
 */
import { App, type Environment } from 'aws-cdk-lib';
import { DataPlaneAccountStack } from '../lib/data-plane-account-stack';
import { DataPlaneStack } from '../lib/data-plane-stack';
import { readDeploymentContext } from '../lib/deployment-context';
import { SensorStack } from '../lib/sensor-stack';

/** Feature flags the stacks rely on; set in code so tests and `cdk synth` build the same templates. */
export const FEATURE_FLAGS: Record<string, unknown> = {
  // Grant S3 log delivery through the bucket policy, so the access-log bucket can keep ACLs disabled.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  // The all-in-one sensor stack references the data-plane cluster; keep the producer protected.
  '@aws-cdk/core:defaultCrossStackReferences': 'strong',
};

export function buildApp(app: App): App {
  for (const [flag, value] of Object.entries(FEATURE_FLAGS)) {
    if (app.node.tryGetContext(flag) === undefined) app.node.setContext(flag, value);
  }
  const context = readDeploymentContext(app.node);
  const region = context['sightline:region'];
  const dataPlaneEnv: Environment | undefined = context['sightline:dataPlaneAccount'] !== undefined || region !== undefined
    ? { account: context['sightline:dataPlaneAccount'], region }
    : undefined;
  const dataPlaneProps = {
    env: dataPlaneEnv,
    image: context['sightline:image'],
    timestream: context['sightline:timestream'],
    slaMs: context['sightline:slaMs'],
    tokenBudgetPerHour: context['sightline:tokenBudgetPerHour'],
    alarmEmail: context['sightline:alarmEmail'],
    workloadAccounts: context['sightline:workloadAccounts'],
    apiAccessCidrs: context['sightline:apiAccessCidrs'],
  };

  switch (context['sightline:topology']) {
    case 'all-in-one': {
      const dataPlane = new DataPlaneStack(app, 'SightlineDataPlane', {
        ...dataPlaneProps,
        description: 'Sightline all-in-one: data plane and gateway; the sensor runs in the same cluster',
      });
      new SensorStack(app, 'SightlineSensor', {
        env: dataPlaneEnv,
        description: 'Sightline all-in-one: sensor DaemonSet on the data-plane cluster',
        cluster: dataPlane.gateway.cluster,
        gatewayEndpoint: dataPlane.gateway.chart.inClusterEndpoint,
        image: dataPlane.image,
        createNamespace: false,
      });
      break;
    }
    case 'data-plane':
      new DataPlaneStack(app, 'SightlineDataPlane', {
        ...dataPlaneProps,
        description: 'Sightline data plane: stores, dashboard, alarms and the gateway cluster',
      });
      break;
    case 'sensor':
      new SensorStack(app, 'SightlineSensor', {
        env: region === undefined ? undefined : { region },
        description: 'Sightline sensor DaemonSet on an existing workload cluster',
        cluster: { existingClusterName: context['sightline:clusterName']! },
        gatewayEndpoint: context['sightline:gatewayEndpoint']!,
        image: context['sightline:image'],
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
  return app;
}

if (require.main === module) {
  buildApp(new App()).synth();
}
