/**
 * The kubectl that applies Sightline's manifests (the kubectl provider's Lambda layer), and the clusters it may talk to.
 * Kubernetes supports kubectl within one minor version of the API server, older or newer
 * (https://kubernetes.io/releases/version-skew-policy/#kubectl); outside that, applies can fail or drop fields.
 */

/** Minor version of the kubectl in `@aws-cdk/lambda-layer-kubectl-v35`, the layer every kubectl provider here uses. */
export const KUBECTL_VERSION = '1.35';

function minorOf(version: string): number {
  const match = /^1\.(\d+)$/.exec(version);
  if (match === null) throw new Error(`Kubernetes version must look like 1.33, got "${version}"`);
  return Number(match[1]);
}

/** Cluster versions the shipped kubectl supports: one minor version either side of its own. */
export function supportedClusterVersions(kubectlVersion = KUBECTL_VERSION): string[] {
  const minor = minorOf(kubectlVersion);
  return [minor - 1, minor, minor + 1].map((value) => `1.${value}`);
}

/** Throws, naming the supported range and the way out, when a cluster is outside kubectl's version skew. */
export function checkKubectlSkew(clusterVersion: string, kubectlVersion = KUBECTL_VERSION): void {
  const supported = supportedClusterVersions(kubectlVersion);
  if (supported.includes(`1.${minorOf(clusterVersion)}`)) return;
  throw new Error(
    `context sightline:clusterVersion: the sensor stack applies its manifest with kubectl ${kubectlVersion}, which supports clusters `
    + `${supported[0]} to ${supported[supported.length - 1]}; cluster ${clusterVersion} is outside that. Upgrade the cluster, or render the `
    + 'chart with `npx tsx lib/charts/cdk8s-app.ts` and apply it with a kubectl that matches the cluster (docs/deploy.md).',
  );
}
