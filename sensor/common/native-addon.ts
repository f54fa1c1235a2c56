/**
 * The package's one native addon (bpf/addon): libbpf for the capture stage, and a Vectorscan text scanner for the
 * privacy stage. Loaded once, by absolute path, from the package root (sources, dist/ or the runtime bundle).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository (or installed package) root: where bpf/build and bpf/addon live, both from sources and from dist/. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'bpf'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the Sightline package root above ${__dirname}`);
    dir = parent;
  }
}

export function nativeAddonPath(): string {
  return path.join(packageRoot(), 'bpf', 'addon', 'build', 'Release', 'sightline_bpf.node');
}

let addon: unknown;

/** The addon's exports; throws a sentence naming the fix when it is not built. */
export function loadNativeAddon<T>(): T {
  if (addon !== undefined) return addon as T;
  const addonPath = nativeAddonPath();
  if (!fs.existsSync(addonPath)) {
    throw new Error(`the native addon is not built (${addonPath} is missing): run \`npm run build\` first`);
  }
  addon = require(addonPath);
  return addon as T;
}
