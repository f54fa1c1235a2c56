/**
 * A release: a version, the sensor and gateway images pinned by digest, and the version of the charts it needs (a
 * release that relies on a chart change waits until the customer deployed those charts). Channels point at releases.
 */
import { z } from 'zod';
import { IMAGE_BY_DIGEST, imageRepository, type WorkloadComponent } from '../contract';
import { CHANNELS, type Channel } from '../tenants/tenant';

const version = z.string().regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'must be a version such as 1.4.0');
const imageByDigest = z.string().regex(IMAGE_BY_DIGEST, 'must be an image pinned by digest (repository@sha256:<64 hex>)');

export const releaseSchema = z.object({
  version,
  images: z.object({ sensor: imageByDigest, gateway: imageByDigest }),
  chartVersion: version,
  notes: z.string().optional(),
  publishedAt: z.string(),
  publishedBy: z.string(),
});

export type Release = z.infer<typeof releaseSchema>;

export function parseRelease(input: unknown): Release {
  const parsed = releaseSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((issue) => `release ${issue.path.join('.') || '(root)'}: ${issue.message}`).join('\n'));
  }
  return parsed.data;
}

/** The image a release sets for one workload. */
export function releaseImage(release: Release, component: WorkloadComponent): string {
  return release.images[component];
}

/** Why a release cannot go to a cluster that accepts images from `repository` (undefined when it can). */
export function repositoryMismatch(release: Release, repository: string): string | undefined {
  const foreign = (Object.entries(release.images) as Array<[WorkloadComponent, string]>)
    .filter(([, image]) => imageRepository(image) !== repository);
  if (foreign.length === 0) return undefined;
  return `its admission policy accepts images from ${repository} only; release ${release.version} has ${foreign.map(([component, image]) => `${component} ${imageRepository(image)}`).join(', ')}`;
}

export const channelPointerSchema = z.object({
  channel: z.enum(CHANNELS),
  version,
  updatedAt: z.string(),
  updatedBy: z.string(),
});

export interface ChannelPointer {
  channel: Channel;
  version: string;
  updatedAt: string;
  updatedBy: string;
}
