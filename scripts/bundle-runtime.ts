/**
 * Builds what the container image ships, laid out as its /opt/sightline: the `sightline` CLI bundled into one
 * file by esbuild, the libbpf addon and the compiled BPF objects. No node_modules: the CDK app and its libraries
 * (aws-cdk-lib, cdk8s, cdk-nag, ...) are never reachable from the CLI, so they cannot end up in the image.
 *
 *   npx tsx scripts/bundle-runtime.ts [--out build/runtime]
 *
 * Needs `npm run build:bpf` first (the addon and the BPF objects are copied, not built, here).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';

/** The oldest Node.js the bundle must run on (package.json `engines`); the image itself runs a newer LTS. */
export const RUNTIME_NODE_TARGET = 'node20.19';

/** Packages of the CDK app; finding one of them in the bundle means the CLI imports the infrastructure code. */
export const CDK_PACKAGES = ['aws-cdk-lib', 'constructs', 'cdk8s', 'cdk8s-plus-33', 'cdk-nag', 'cdk-monitoring-constructs', '@aws-cdk/'];

/**
 * Packages the services load only when a feature needs them (a storage sink, Kubernetes enrichment), each bundled
 * into its own file under dist/vendor/: V8 then parses an AWS SDK client only in the process that uses it, which
 * keeps a sensor shipping OTLP as small as the unbundled one. Our own modules stay in the main bundle, so classes
 * compared with `instanceof` (PermanentExportError) exist once.
 */
export const LAZY_PACKAGES = ['@aws-sdk/client-s3', '@aws-sdk/client-timestream-write', '@aws-sdk/client-cloudwatch', '@aws-sdk/client-secrets-manager', '@kubernetes/client-node', 'iced-x86'] as const;

/**
 * Files a lazy package reads from its own directory at run time, copied next to its vendor file (where the bundled
 * code's __dirname points): iced-x86, which decodes Go executables' machine code, loads its WebAssembly that way.
 */
const LAZY_PACKAGE_ASSETS: Record<string, string[]> = { 'iced-x86': ['iced_x86_bg.wasm'] };

const vendorFile = (name: string) => `vendor/${name.replace(/^@/, '').replace(/\//g, '-')}.js`;

/** Leaves `require('<lazy package>')` in the main bundle, pointed at its vendor file next to it. */
const lazyPackagesExternal: Plugin = {
  name: 'lazy-packages',
  setup(pluginBuild) {
    const names = new Set<string>(LAZY_PACKAGES);
    pluginBuild.onResolve({ filter: /^(@(aws-sdk|kubernetes)\/|iced-x86$)/ }, (args) =>
      names.has(args.path) && args.kind !== 'entry-point' ? { path: `./${vendorFile(args.path)}`, external: true } : undefined,
    );
  },
};

export interface RuntimeFile {
  /** Path inside the runtime directory. */
  path: string;
  bytes: number;
}

export interface RuntimeBundle {
  dir: string;
  files: RuntimeFile[];
  totalBytes: number;
  /** npm packages compiled into dist/sightline.js, with the bytes each contributes. */
  packages: Map<string, number>;
  /** npm packages compiled into the files under dist/vendor/ (LAZY_PACKAGES and what they use). */
  vendorPackages: Map<string, number>;
  /** The repository's own source files compiled in (relative paths): the image's build context must hold them. */
  sources: string[];
}

const REPOSITORY_ROOT = path.resolve(__dirname, '..');

/** `node_modules/@scope/name/...` or `node_modules/name/...` → the package name; undefined for our own sources. */
function packageOf(input: string): string | undefined {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return undefined;
  const name = parts[at + 1];
  return name.startsWith('@') ? `${name}/${parts[at + 2]}` : name;
}

function copyInto(outDir: string, relativePath: string, repositoryRoot: string): void {
  const source = path.join(repositoryRoot, relativePath);
  if (!fs.existsSync(source)) {
    throw new Error(`bundle: ${source} is missing: run \`npm run build:bpf\` first`);
  }
  fs.mkdirSync(path.dirname(path.join(outDir, relativePath)), { recursive: true });
  fs.copyFileSync(source, path.join(outDir, relativePath));
}

function listFiles(dir: string, prefix = ''): RuntimeFile[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(prefix, entry.name);
    return entry.isDirectory()
      ? listFiles(path.join(dir, entry.name), relative)
      : [{ path: relative, bytes: fs.statSync(path.join(dir, entry.name)).size }];
  });
}

export async function bundleRuntime(outDir: string, repositoryRoot = REPOSITORY_ROOT): Promise<RuntimeBundle> {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: RUNTIME_NODE_TARGET,
    // Whitespace and syntax only: identifiers keep their names, so stack traces in logs stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    // The licence texts of the bundled packages travel next to the bundle.
    legalComments: 'external',
    metafile: true,
    logLevel: 'error',
    absWorkingDir: repositoryRoot,
  } as const;
  const main = await build({
    ...common,
    entryPoints: [path.join(repositoryRoot, 'bin', 'sightline.ts')],
    outfile: path.join(outDir, 'dist', 'sightline.js'),
    // The addon is loaded by absolute path at run time (sensor/capture/bpf-addon.ts); it is copied, not bundled.
    external: ['*.node'],
    plugins: [lazyPackagesExternal],
  });
  const vendor = await build({
    ...common,
    entryPoints: Object.fromEntries(LAZY_PACKAGES.map((name) => [vendorFile(name).replace(/\.js$/, ''), name])),
    outdir: path.join(outDir, 'dist'),
  });
  for (const [name, assets] of Object.entries(LAZY_PACKAGE_ASSETS)) {
    for (const asset of assets) {
      const target = path.join(outDir, 'dist', path.dirname(vendorFile(name)), asset);
      fs.copyFileSync(path.join(path.dirname(require.resolve(`${name}/package.json`, { paths: [repositoryRoot] })), asset), target);
    }
  }
  const packagesOf = (metafile: Metafile): Map<string, number> => {
    const packages = new Map<string, number>();
    for (const output of Object.values(metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const name = packageOf(input);
        if (name !== undefined) packages.set(name, (packages.get(name) ?? 0) + bytesInOutput);
      }
    }
    return packages;
  };
  const packages = packagesOf(main.metafile);
  const vendorPackages = packagesOf(vendor.metafile);
  // Metafile paths are relative to absWorkingDir.
  const sources = Object.keys(main.metafile.inputs).filter((input) => packageOf(input) === undefined).sort();
  const cdkPackages = [...packages.keys(), ...vendorPackages.keys()].filter((name) => CDK_PACKAGES.some((cdk) => (cdk.endsWith('/') ? name.startsWith(cdk) : name === cdk)));
  if (cdkPackages.length > 0) {
    throw new Error(`bundle: the CLI pulls in CDK packages (${cdkPackages.join(', ')}): keep lib/ out of sensor/ and bin/sightline.ts`);
  }

  // bpf-addon.ts finds the addon and the objects under the first directory above it that holds package.json and bpf/.
  const manifest = JSON.parse(fs.readFileSync(path.join(repositoryRoot, 'package.json'), 'utf8')) as { version: string; license: string; engines: object };
  fs.writeFileSync(
    path.join(outDir, 'package.json'),
    `${JSON.stringify({ name: 'sightline-runtime', version: manifest.version, private: true, license: manifest.license, engines: manifest.engines }, null, 2)}\n`,
  );
  const bpfObjects = fs.readdirSync(path.join(repositoryRoot, 'bpf', 'build')).filter((file) => file.endsWith('.bpf.o'));
  if (bpfObjects.length === 0) throw new Error('bundle: no BPF objects in bpf/build: run `npm run build:bpf` first');
  for (const object of bpfObjects) copyInto(outDir, path.join('bpf', 'build', object), repositoryRoot);
  copyInto(outDir, path.join('bpf', 'addon', 'build', 'Release', 'sightline_bpf.node'), repositoryRoot);

  const files = listFiles(outDir).sort((a, b) => a.path.localeCompare(b.path));
  return { dir: outDir, files, totalBytes: files.reduce((sum, file) => sum + file.bytes, 0), packages, vendorPackages, sources };
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

if (require.main === module) {
  const outFlag = process.argv.indexOf('--out');
  const outDir = path.resolve(outFlag >= 0 ? process.argv[outFlag + 1] : path.join(REPOSITORY_ROOT, 'build', 'runtime'));
  bundleRuntime(outDir)
    .then((bundle) => {
      for (const file of bundle.files) process.stdout.write(`${megabytes(file.bytes).padStart(10)}  ${file.path}\n`);
      process.stdout.write(`${megabytes(bundle.totalBytes).padStart(10)}  total in ${bundle.dir}\n`);
      const largest = [...bundle.packages, ...bundle.vendorPackages].sort((a, b) => b[1] - a[1]).slice(0, 5);
      process.stdout.write(`largest bundled packages: ${largest.map(([name, bytes]) => `${name} ${megabytes(bytes)}`).join(', ')}\n`);
    })
    .catch((error: Error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    });
}
