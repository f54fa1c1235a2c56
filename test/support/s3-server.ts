/** A real S3-protocol server (s3rver) on loopback, and a reader that returns the span rows the gateway wrote there. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { SpanRow } from '../../sensor/exporters/s3-exporter';
// s3rver ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver');

/** s3rver accepts exactly this key pair by default. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** The same pair as the AWS SDK's environment credentials, for a gateway process. */
export const S3RVER_ENV = { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey };

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  client: S3Client;
  /** Every row of every object under `prefix`, with the object key it came from. */
  rows(prefix?: string): Promise<Array<SpanRow & { objectKey: string }>>;
  /** Takes the server down (an outage); its objects stay on disk. */
  stop(): Promise<void>;
  /** Brings it back on the same port with the same objects. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalS3(bucket = 'sightline-spans'): Promise<LocalS3> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-s3rver-'));
  const serve = async (port: number) => {
    const instance = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: bucket }] });
    return { instance, port: ((await instance.run()) as { port: number }).port };
  };
  let { instance: server, port } = await serve(0);
  let running = true;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
  // Objects are immutable once written (keys derive from content), so each is fetched once.
  const cache = new Map<string, SpanRow[]>();

  async function rowsOf(key: string): Promise<SpanRow[]> {
    const cached = cache.get(key);
    if (cached) return cached;
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = gunzipSync(Buffer.from(await object.Body!.transformToByteArray())).toString('utf8');
    const rows = text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as SpanRow);
    cache.set(key, rows);
    return rows;
  }

  return {
    endpoint,
    bucket,
    client,
    async rows(prefix = '') {
      const keys: string[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: continuationToken }));
        keys.push(...(page.Contents ?? []).map((object) => object.Key!));
        continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (continuationToken);
      const all: Array<SpanRow & { objectKey: string }> = [];
      for (const key of keys.sort()) all.push(...(await rowsOf(key)).map((row) => ({ ...row, objectKey: key })));
      return all;
    },
    async stop() {
      if (!running) return;
      running = false;
      await server.close();
    },
    async restart() {
      if (running) return;
      ({ instance: server, port } = await serve(port));
      running = true;
    },
    async close() {
      client.destroy();
      if (running) await server.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
