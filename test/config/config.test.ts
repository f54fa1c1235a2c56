import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderConfigReference } from '../../sensor/config/config-reference';
import { ConfigError, loadConfigFile, parseConfig } from '../../sensor/config/load-config';
import { gatewayConfig, sensorConfig } from '../../sensor/cli/service-commands';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

test('docs/configuration.md is what the schema renders (run `npm run docs:config` after changing the schema)', () => {
  const committed = fs.readFileSync(path.resolve(__dirname, '../../docs/configuration.md'), 'utf8');
  expect(committed).toBe(renderConfigReference());
});

test('an empty file gives the documented defaults', () => {
  const config = loadConfigFile(writeConfig('empty.yaml', ''));
  expect(config.capture.maxCallBytes).toBe(8 * 1024 * 1024);
  expect(config.server.httpPort).toBe(9464);
  expect(config.receiver.port).toBe(4318);
  expect(config.privacy.obfuscation.requestPrompts).toBe(false);
  expect(config.exporters.s3.enabled).toBe(false);
});

test('errors name the bad key, for unknown keys, wrong types and missing required fields', () => {
  expect(errorOf(() => parseConfig({ capture: { maxCalBytes: 1 } }))).toMatch(/capture\.maxCalBytes: unknown key/);
  expect(errorOf(() => parseConfig({ captur: {} }))).toMatch(/captur: unknown key/);
  expect(errorOf(() => parseConfig({ http: { maxBodyBytes: 'big' } }))).toMatch(/http\.maxBodyBytes: /);
  expect(errorOf(() => parseConfig({ capture: { ringBufferBytes: 1000 } }))).toMatch(/capture\.ringBufferBytes: must be a power of two/);
  expect(errorOf(() => parseConfig({ exporters: { s3: { enabled: true } } }))).toMatch(/exporters\.s3\.bucket is required when exporters\.s3\.enabled is true/);
});

test('a file that is not YAML, or not a mapping, or missing, says so with its path', () => {
  const broken = writeConfig('broken.yaml', 'capture: [unclosed');
  expect(errorOf(() => loadConfigFile(broken))).toContain(`${broken} is not valid YAML`);
  expect(errorOf(() => loadConfigFile(writeConfig('list.yaml', '- a\n- b\n')))).toMatch(/must hold a mapping of sections/);
  expect(errorOf(() => loadConfigFile(path.join(dir, 'missing.yaml')))).toMatch(/cannot read .*missing\.yaml: ENOENT/);
});

test('command-line flags lay over the file', () => {
  const file = writeConfig('sensor.yaml', 'server:\n  httpPort: 1234\nexporters:\n  batching:\n    maxBatch: 7\n');
  const sensor = sensorConfig({ config: file, otlpEndpoint: 'http://gateway:4318', dataDir: '/var/lib/x', otlpFile: 'spans.jsonl' });
  expect(sensor.server.httpPort).toBe(1234);
  expect(sensor.exporters.batching.maxBatch).toBe(7);
  expect(sensor.exporters.otlp).toMatchObject({ enabled: true, endpoint: 'http://gateway:4318' });
  expect(sensor.exporters.spool.dir).toBe('/var/lib/x/spool');
  expect(sensor.exporters.file).toEqual({ enabled: true, path: path.resolve('spans.jsonl') });
  const gateway = gatewayConfig({ config: file, otlpPort: 14318, httpPort: 19464 });
  expect(gateway.receiver.port).toBe(14318);
  expect(gateway.server.httpPort).toBe(19464);
});

test('the CLI refuses a bad config at start-up with exit code 2 and the key in the message', () => {
  const file = writeConfig('bad.yaml', 'exporters:\n  s3:\n    enabled: true\n');
  const cli = path.resolve(__dirname, '../../bin/sightline.js');
  const run = spawnSync(process.execPath, [cli, 'gateway', '--config', file, '--otlp-port', '0', '--http-port', '0'], { encoding: 'utf8', timeout: 20_000 });
  expect(run.status).toBe(2);
  expect(run.stderr).toContain('exporters.s3.bucket is required when exporters.s3.enabled is true');
});
