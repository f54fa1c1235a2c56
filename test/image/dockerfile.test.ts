/**
 * The Dockerfile, read as the build would: a supported Node.js LTS in both stages, a runtime stage that copies the
 * bundle directory only (no node_modules, no npm), and a build context (.dockerignore, evaluated by the CDK's own
 * Docker ignore rules, as the image asset stages it) that holds every source file the bundle compiles.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DockerIgnoreStrategy } from 'aws-cdk-lib';
import { bundleRuntime } from '../../scripts/bundle-runtime';

const ROOT = path.resolve(__dirname, '../..');
const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

interface Stage {
  from: string;
  name?: string;
  instructions: Array<{ keyword: string; args: string }>;
}

/** Instructions per stage, continuation lines joined and comments dropped. */
function stages(text: string): Stage[] {
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const result: Stage[] = [];
  for (const line of logical) {
    const [keyword, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const [from, as, name] = rest;
      result.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      result.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return result;
}

const [build, runtime] = stages(dockerfile);

test('both stages build on a supported Node.js LTS (22 or 24), the runtime on its slim variant', () => {
  expect(stages(dockerfile)).toHaveLength(2);
  for (const stage of [build, runtime]) expect(stage.from).toMatch(/^node:(22|24)-bookworm(-slim)?$/);
  expect(runtime.from).toMatch(/-slim$/);
});

test('the build stage produces the runtime directory with the bundler, and the runtime stage copies only that', () => {
  const buildRuns = build.instructions.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args).join('\n');
  expect(buildRuns).toMatch(/npm run build:bpf/);
  expect(buildRuns).toMatch(/scripts\/bundle-runtime\.ts --out \/runtime/);
  const copies = runtime.instructions.filter((instruction) => instruction.keyword === 'COPY');
  expect(copies.map((copy) => copy.args)).toEqual([`--from=${build.name} /runtime/ ./`]);
  const runtimeText = runtime.instructions.map((instruction) => `${instruction.keyword} ${instruction.args}`).join('\n');
  expect(runtimeText).not.toMatch(/node_modules|npm |npx /);
});

test('the container runs the bundle as a non-root user, with the launcher\'s V8 flag', () => {
  const last = (keyword: string) => runtime.instructions.filter((instruction) => instruction.keyword === keyword).at(-1)?.args;
  expect(JSON.parse(last('ENTRYPOINT')!)).toEqual(['node', '--max-semi-space-size=4', '--no-allocation-site-pretenuring', 'dist/sightline.js']);
  expect(last('USER')).toBe('10001');
  expect(last('WORKDIR')).toBe('/opt/sightline');
  const env = runtime.instructions.filter((instruction) => instruction.keyword === 'ENV').map((instruction) => instruction.args);
  expect(env).toContain('MALLOC_ARENA_MAX=2');
});

test('the build context holds every source file the bundle compiles, the lock file and the BPF sources, and no tests or CDK app', async () => {
  const patterns = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const ignore = new DockerIgnoreStrategy(ROOT, patterns);
  const included = (relative: string) => !ignore.ignores(path.join(ROOT, relative));
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-context-'));
  try {
    const { sources } = await bundleRuntime(outDir);
    expect(sources).toContain('bin/sightline.ts');
    expect(sources.filter((source) => !included(source))).toEqual([]);
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
  for (const needed of ['package.json', 'package-lock.json', 'scripts/bundle-runtime.ts', 'bpf/Makefile', 'bpf/src/tls_capture.bpf.c', 'bpf/addon/binding.gyp']) {
    expect([needed, included(needed)]).toEqual([needed, true]);
  }
  for (const excluded of ['bin/app.ts', 'lib/data-plane-stack.ts', 'test/lib/app.test.ts', 'bpf/build/tls_capture.bpf.o', 'node_modules/aws-cdk-lib/package.json']) {
    expect([excluded, included(excluded)]).toEqual([excluded, false]);
  }
});
