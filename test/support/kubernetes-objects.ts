/**
 * Objects as the Kubernetes API server stores and returns them: a chart's manifest with the server's metadata and
 * defaults (the fields `kubectl get -o json` shows that nobody wrote), and a status. Admission tests and the fake API
 * server start from these, so they see what a live cluster would present.
 */
import { App } from 'cdk8s';
import { GatewayChart } from '../../lib/charts/gateway-chart';
import { SensorChart } from '../../lib/charts/sensor-chart';

export const RELEASE_REPOSITORY = 'public.ecr.aws/acme/sightline';
export const digestOf = (seed: string) => `sha256:${Buffer.from(seed.padEnd(32, '.')).toString('hex').slice(0, 64).padEnd(64, '0')}`;
export const releaseImage = (seed: string) => `${RELEASE_REPOSITORY}@${digestOf(seed)}`;

let counter = 0;
const uid = () => `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;

function defaultContainer(container: any): any {
  return { terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', ...container };
}

function defaultPodSpec(spec: any): any {
  return {
    dnsPolicy: 'ClusterFirst', restartPolicy: 'Always', schedulerName: 'default-scheduler', securityContext: {},
    terminationGracePeriodSeconds: 30,
    ...spec,
    containers: spec.containers.map(defaultContainer),
  };
}

/** The manifest as stored: server metadata, defaults, generation 1, and a status of a rolled-out workload. */
export function storedObject(manifest: any, nodes = 3): any {
  const stored = structuredClone(manifest);
  stored.metadata = {
    ...stored.metadata, uid: uid(), resourceVersion: String(1000 + counter), generation: 1, creationTimestamp: '2025-06-01T08:00:00Z',
    managedFields: [{ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: stored.apiVersion, time: '2025-06-01T08:00:00Z', fieldsType: 'FieldsV1', fieldsV1: {} }],
  };
  if (stored.spec?.template?.spec !== undefined) stored.spec.template.spec = defaultPodSpec(stored.spec.template.spec);
  switch (stored.kind) {
    case 'StatefulSet': {
      stored.spec = { revisionHistoryLimit: 10, minReadySeconds: 0, ...stored.spec };
      stored.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 0 }, ...stored.spec.updateStrategy };
      const replicas = stored.spec.replicas ?? 1;
      stored.status = {
        observedGeneration: 1, replicas, readyReplicas: replicas, currentReplicas: replicas, updatedReplicas: replicas, availableReplicas: replicas,
        currentRevision: 'sightline-gateway-6d4b5c', updateRevision: 'sightline-gateway-6d4b5c', collisionCount: 0,
      };
      break;
    }
    case 'DaemonSet':
      stored.metadata.annotations = { ...stored.metadata.annotations, 'deprecated.daemonset.template.generation': '1' };
      stored.spec = { revisionHistoryLimit: 10, ...stored.spec };
      stored.status = {
        observedGeneration: 1, desiredNumberScheduled: nodes, currentNumberScheduled: nodes, numberReady: nodes, numberAvailable: nodes,
        updatedNumberScheduled: nodes, numberMisscheduled: 0,
      };
      break;
    case 'HorizontalPodAutoscaler':
      stored.status = { currentReplicas: manifest.spec.minReplicas, desiredReplicas: manifest.spec.minReplicas, currentMetrics: [] };
      break;
    default:
      break;
  }
  return stored;
}

/** What the API server changes on an update before validating admission sees the object. */
export function serverUpdate(oldObject: any, updated: any): any {
  const object = structuredClone(updated);
  object.status = structuredClone(oldObject.status);
  object.metadata.resourceVersion = String(Number(oldObject.metadata.resourceVersion) + 1);
  const specChanged = JSON.stringify(object.spec) !== JSON.stringify(oldObject.spec);
  if (specChanged) object.metadata.generation = oldObject.metadata.generation + 1;
  if (object.kind === 'DaemonSet' && JSON.stringify(object.spec.template) !== JSON.stringify(oldObject.spec.template)) {
    const generation = Number(oldObject.metadata.annotations['deprecated.daemonset.template.generation']) + 1;
    object.metadata.annotations = { ...object.metadata.annotations, 'deprecated.daemonset.template.generation': String(generation) };
  }
  return object;
}

/** The gateway StatefulSet and HPA and the sensor DaemonSet, rendered by the charts with `image`, as stored. */
export function sightlineWorkloads(image = releaseImage('1.0.0'), nodes = 3): { statefulSet: any; autoscaler: any; daemonSet: any; configMap: any } {
  const gateway = new GatewayChart(new App(), 'gateway', {
    image, sinks: { region: 'eu-west-1', spanBucketName: 'spans', slaMs: 1000 },
    credentials: {
      secretsManager: {
        tlsSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:GatewayTls-aaaaaa',
        clientTokenSecretArns: { payments: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:Token-payments-bbbbbb' },
      },
    },
  }).toJson();
  const sensor = new SensorChart(new App(), 'sensor', {
    image,
    gatewayEndpoint: 'https://sightline-gateway.sightline.svc.cluster.local:4318',
    createNamespace: false,
    gatewayCredentials: {
      secretsManager: {
        tokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:SensorToken-payments-cccccc',
        caSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:GatewayCa-dddddd',
      },
    },
  }).toJson();
  const byKind = (manifests: any[], kind: string) => manifests.find((manifest) => manifest.kind === kind);
  return {
    statefulSet: storedObject(byKind(gateway, 'StatefulSet')),
    autoscaler: storedObject(byKind(gateway, 'HorizontalPodAutoscaler')),
    daemonSet: storedObject(byKind(sensor, 'DaemonSet'), nodes),
    configMap: storedObject(byKind(gateway, 'ConfigMap')),
  };
}
