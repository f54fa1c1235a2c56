import { createHash } from 'node:crypto';
/**
 * The `config.yaml` each chart mounts into its container. The charts write the keys of the real configuration
 * schema (sensor/config/schema.ts) and check the result against it at synth time, so a chart never ships a file
 * the process would refuse at start-up.
 */
import { stringify } from 'yaml';
import { parseConfig } from '../../sensor/config/load-config';
import type { SightlineConfigInput } from '../../sensor/config/schema';

/** Where the ConfigMap is mounted, and the file the container is started with (`--config`). */
export const CONFIG_MOUNT_PATH = '/etc/sightline';
export const CONFIG_FILE_NAME = 'config.yaml';
export const CONFIG_FILE_PATH = `${CONFIG_MOUNT_PATH}/${CONFIG_FILE_NAME}`;

/** Container path of the on-disk spool (a host directory for the sensor, each replica's EBS volume for the gateway). */
export const SPOOL_MOUNT_PATH = '/var/lib/sightline/spool';

type ConfigTree = { [key: string]: unknown };

function isTree(value: unknown): value is ConfigTree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `base` with `overrides` laid over it, section by section; lists and values are replaced, never concatenated. */
export function mergeConfig(base: ConfigTree, overrides: ConfigTree): ConfigTree {
  const merged: ConfigTree = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    merged[key] = isTree(value) && isTree(merged[key]) ? mergeConfig(merged[key] as ConfigTree, value) : value;
  }
  return merged;
}

// Deploy-time values (bucket names, regions, the cluster name) are CDK tokens while synthesizing.
const CDK_TOKEN = /\$\{Token\[[^\]]*\]\}/g;

/**
 * The chart's own settings laid over the operator's extra configuration, validated, as YAML.
 * Throws the loader's error (naming the bad key) when the result would not start.
 */
export function renderConfigFile(chartSettings: SightlineConfigInput, extraConfig: SightlineConfigInput = {}, chartName: string): string {
  const document = mergeConfig(extraConfig as ConfigTree, chartSettings as ConfigTree);
  parseConfig(JSON.parse(JSON.stringify(document).replace(CDK_TOKEN, 'resolved-at-deploy')), `the ${chartName} chart's ${CONFIG_FILE_NAME}`);
  return stringify(document);
}

/**
 * Pod-template annotation that changes whenever the config file does: the process reads its config only at start,
 * so a new config (a gateway endpoint, an SLA, privacy settings) must roll the pods to take effect.
 */
export function configChecksumAnnotation(configFile: string): Record<string, string> {
  return { 'sightline.dev/config-sha256': createHash('sha256').update(configFile).digest('hex') };
}

/** Nodes the Sightline image can run on: Linux on x86-64, the platform the image is built for. */
export const IMAGE_NODE_SELECTOR = { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' };
