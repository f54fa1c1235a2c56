/**
 * Bundles the web UI (sensor/ui/web) into dist/ui with esbuild: one script, one stylesheet, with Preact and uPlot
 * from node_modules inside them, so the UI needs no network (no CDN) and no install step of its own at run time.
 * Run by `npm run build:ui`, after `tsc` has type-checked sensor/ui/web against its own tsconfig (DOM types).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';

export async function buildUi(root: string): Promise<string[]> {
  const source = path.join(root, 'sensor', 'ui', 'web');
  const out = path.join(root, 'dist', 'ui');
  fs.rmSync(out, { recursive: true, force: true });
  const result = await build({
    entryPoints: { app: path.join(source, 'main.tsx') },
    bundle: true,
    minify: true,
    sourcemap: false,
    format: 'iife',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: out,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'linked',
  });
  fs.copyFileSync(path.join(source, 'favicon.svg'), path.join(out, 'favicon.svg'));
  return Object.keys(result.metafile.outputs);
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..', '..', '..');
  buildUi(root).then(
    (outputs) => process.stdout.write(`web UI bundled: ${outputs.map((file) => path.relative(root, path.resolve(root, file))).join(', ')}\n`),
    (error: Error) => {
      process.stderr.write(`build-ui: ${error.message}\n`);
      process.exit(1);
    },
  );
}
