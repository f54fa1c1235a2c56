/** Enrichment settings: where process context comes from, and how Kubernetes is asked. */
import { z } from 'zod';

export const kubernetesEnrichmentConfigSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe('Add pod, namespace, workload, node and cluster when a Kubernetes API is reachable (in-cluster service account or kubeconfig). Without one, spans get process context only.'),
    nodeName: z
      .string()
      .min(1)
      .optional()
      .describe('The node this sensor runs on; only its pods are listed. Default: the NODE_NAME environment variable (set it from the downward API, spec.nodeName).'),
    clusterName: z
      .string()
      .min(1)
      .optional()
      .describe('Value of k8s.cluster.name. Default: SIGHTLINE_CLUSTER_NAME, else CLUSTER_NAME from the environment.'),
    kubeconfig: z.string().min(1).optional().describe('Kubeconfig file for running outside a cluster. Default: KUBECONFIG, else ~/.kube/config.'),
    relistIntervalSeconds: z.number().positive().default(30).describe('How often the pods of this node are listed again.'),
  })
  .describe('Kubernetes context for captured calls.');

export const enrichmentConfigSchema = z
  .object({
    procRoot: z.string().min(1).default('/proc').describe('Proc filesystem to read process context from (e.g. /host/proc when the host\'s is mounted there).'),
    processCacheSeconds: z.number().positive().default(30).describe('How long the context of one pid is cached.'),
    kubernetes: kubernetesEnrichmentConfigSchema.prefault({}),
  })
  .describe('Process, container and Kubernetes context added to every captured span.');

export type EnrichmentConfig = z.output<typeof enrichmentConfigSchema>;
export type EnrichmentConfigInput = z.input<typeof enrichmentConfigSchema>;
