import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sensorConfig, gatewayConfig } from '../../sensor/cli/service-commands';
import { ConfigError, parseConfig } from '../../sensor/config/load-config';
import { defaultDataDir, ROOT_DATA_DIR } from '../../sensor/runtime/data-dir';
import { checkUiExposure, isLoopbackHost } from '../../sensor/runtime/local-store';

const ROOT = path.resolve(__dirname, '../..');

describe('local mode defaults', () => {
  test('both listeners bind loopback unless configured otherwise', () => {
    const config = sensorConfig({});
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.receiver.host).toBe('127.0.0.1');
    expect(config.store).toMatchObject({ enabled: true, maxAgeDays: 7, maxBytes: 1024 ** 3 });
    expect(gatewayConfig({ host: '0.0.0.0' }).server.host).toBe('0.0.0.0');
  });

  test('spool and store live in a data directory that survives restarts, not in memory', () => {
    const config = sensorConfig({});
    const dataDir = defaultDataDir();
    expect(config.exporters.spool.dir).toBe(path.join(dataDir, 'spool'));
    expect(config.store.dir).toBe(path.join(dataDir, 'store'));
    expect(sensorConfig({ dataDir: '/srv/sightline' })).toMatchObject({ exporters: { spool: { dir: '/srv/sightline/spool' } }, store: { dir: '/srv/sightline/store' } });
  });

  test('the file can place spool and store elsewhere', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-config-'));
    const file = path.join(dir, 'sensor.yaml');
    fs.writeFileSync(file, 'exporters:\n  spool:\n    dir: /mnt/spool\nstore:\n  dir: /mnt/store\n  maxAgeDays: 2\n');
    try {
      expect(sensorConfig({ config: file, dataDir: '/ignored' })).toMatchObject({ exporters: { spool: { dir: '/mnt/spool' } }, store: { dir: '/mnt/store', maxAgeDays: 2 } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the default data directory: /var/lib/sightline for root, the XDG state directory for others', () => {
    expect(defaultDataDir({}, 0, '/root')).toBe(ROOT_DATA_DIR);
    expect(defaultDataDir({}, 1000, '/home/ada')).toBe('/home/ada/.local/state/sightline');
    expect(defaultDataDir({ XDG_STATE_HOME: '/data/state' }, 1000, '/home/ada')).toBe('/data/state/sightline');
    expect(defaultDataDir({ XDG_STATE_HOME: 'relative' }, 1000, '/home/ada')).toBe('/home/ada/.local/state/sightline');
  });

  test('store and logging settings are validated with the key named', () => {
    expect(() => parseConfig({ store: { maxBytes: 1024 } })).toThrow(/store\.maxBytes/);
    expect(() => parseConfig({ logging: { format: 'fancy' } })).toThrow(/logging\.format/);
    expect(() => parseConfig({ ui: { accessToken: 'short' } })).toThrow(/ui.accessToken must be at least 16 characters/);
  });
});

describe('serving the UI beyond this machine', () => {
  const withHost = (host: string, extra: object = {}) => parseConfig({ server: { host }, store: { dir: '/tmp/x' }, ...extra });

  test('needs an access token', () => {
    expect(() => checkUiExposure(withHost('0.0.0.0'))).toThrow(ConfigError);
    expect(() => checkUiExposure(withHost('0.0.0.0'))).toThrow(/server.host is 0.0.0.0, which would show every captured prompt .* set ui.accessToken/);
    expect(() => checkUiExposure(withHost('0.0.0.0', { ui: { accessToken: 'x'.repeat(24) } }))).not.toThrow();
    expect(() => checkUiExposure(withHost('127.0.0.1'))).not.toThrow();
    // No UI when the sensor ships to a gateway (Kubernetes), so no token is needed there.
    expect(() => checkUiExposure(withHost('0.0.0.0', { exporters: { otlp: { enabled: true, endpoint: 'http://gateway:4318' } } }))).not.toThrow();
    expect(() => checkUiExposure(withHost('0.0.0.0', { ui: { enabled: false } }))).not.toThrow();
  });

  test('loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'example.com']) expect(isLoopbackHost(host)).toBe(false);
  });

  test('the sensor command refuses to start on another address without a token', () => {
    const result = spawnSync(process.execPath, [path.join(ROOT, 'bin/sightline.js'), 'sensor', '--host', '0.0.0.0', '--http-port', '0', '--data-dir', os.tmpdir()], {
      encoding: 'utf8',
      env: { ...process.env, SIGHTLINE_UI_TOKEN: '' },
      timeout: 30_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^sightline sensor: server.host is 0.0.0.0, which would show every captured prompt/);
  });
});

describe('terminal output', () => {
  const logWith = (format: string) =>
    spawnSync(
      process.execPath,
      ['-e', `const { createLogger } = require(${JSON.stringify(path.join(ROOT, 'dist/sensor/common/logger.js'))}); const log = createLogger({ format: '${format}' }); log.info({ call: { durationMs: 5 } }, 'openai chat gpt-4o 5 ms'); log.warn({ reason: 'gap' }, 'careful');`],
      { encoding: 'utf8', timeout: 30_000 },
    ).stderr;

  test('readable lines when asked (and on a terminal), with the structured copy of the message left out', () => {
    const lines = logWith('text').trim().split('\n');
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: openai chat gpt-4o 5 ms$/);
    expect(lines[1]).toMatch(/^\[\d\d:\d\d:\d\d\] WARN: careful \{"reason":"gap"\}$/);
  });

  test('JSON when not on a terminal (auto) or when asked', () => {
    for (const format of ['auto', 'json']) {
      const [first] = logWith(format).trim().split('\n').map((line) => JSON.parse(line));
      expect(first).toMatchObject({ level: 30, msg: 'openai chat gpt-4o 5 ms', call: { durationMs: 5 } });
    }
  });
});
