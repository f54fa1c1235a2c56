import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';

/**
 * Defines one Kubernetes object from a manifest typed by `kubernetes-models`, so a misspelt field
 * fails type-checking instead of surfacing as a rejected apply at deploy time.
 */
export function defineKubeObject<T extends { apiVersion: string; kind: string }>(scope: Construct, id: string, manifest: T): ApiObject {
  return new ApiObject(scope, id, manifest);
}

/** Labels every object of a Sightline component carries; the selector uses the first two. */
export function componentLabels(component: 'sensor' | 'gateway', version: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'sightline',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'sightline',
    'app.kubernetes.io/version': version,
  };
}

/** The subset of `componentLabels` that never changes across upgrades, for selectors. */
export function componentSelector(component: 'sensor' | 'gateway'): Record<string, string> {
  return { 'app.kubernetes.io/name': 'sightline', 'app.kubernetes.io/component': component };
}

/** Kubernetes label values allow at most 63 characters from a small alphabet; image tags may not fit. */
export function labelSafe(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '') || 'unknown';
}

/** The tag of an image reference (`repo:tag` or `repo@sha256:...`), used as the version label. */
export function imageVersion(image: string): string {
  // An image asset's URI is an unresolved CDK token at synth time; its tag is a content hash known only at deploy.
  if (image.includes('${Token[')) return 'asset';
  const digest = image.indexOf('@');
  if (digest >= 0) return labelSafe(image.slice(digest + 1).replace(/^sha256:/, '').slice(0, 12));
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon >= 0 ? labelSafe(image.slice(colon + 1)) : 'latest';
}
