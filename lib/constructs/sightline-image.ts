import * as path from 'node:path';
import { Platform, DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import type { Construct } from 'constructs';

/** Repository root, where the Dockerfile lives. */
export const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The Sightline image URI: the given one, or an image asset built from the repository Dockerfile at deploy
 * time (synth only stages the build context; `cdk deploy` builds and pushes it to the bootstrap repository).
 */
export function sightlineImageUri(scope: Construct, image: string | undefined): string {
  if (image !== undefined) return image;
  return new DockerImageAsset(scope, 'SightlineImage', {
    directory: REPOSITORY_ROOT,
    platform: Platform.LINUX_AMD64,
  }).imageUri;
}
