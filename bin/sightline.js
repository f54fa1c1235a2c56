#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --no-allocation-site-pretenuring
// Runs the compiled CLI; `npm run build` produces dist/.
// The small young generation keeps the sensor's resident memory down at 1,000 calls/s: each call's bodies are
// garbage within milliseconds, and V8's default 16 MB semi-spaces would hold far more of it than is alive
// (docs/benchmarks.md). V8 reads the flag only at start, so it is here and in the Dockerfile's entrypoint.
// --no-allocation-site-pretenuring: V8 may decide, from a few spans that outlived a collection (the first calls of
// a process wait for its context), that the objects made where spans are built live long, and from then on makes
// them in the old generation; each dead span there keeps its prompt strings alive through the next young
// collections, so they are copied and promoted too. In about half of the 10 s runs at 1,000 calls/s of 8 KiB the
// heap grew to 40-60 MB between full collections and peak RSS to 150-165 MB; with the flag, 19-23 MB and 117-132 MB.
// MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own malloc arena; the ring-buffer thread allocates
// what the main thread frees, and the arenas' fragments cost ~9 MB of resident memory under load (docs/benchmarks.md).
// glibc reads it when the process starts, so it is set here (env -S) and in the Dockerfile.
const path = require('node:path');
const fs = require('node:fs');
const compiled = path.join(__dirname, '..', 'dist', 'bin', 'sightline.js');
if (!fs.existsSync(compiled)) {
  process.stderr.write('sightline: not built yet: run `npm run build` in ' + path.join(__dirname, '..') + '\n');
  process.exit(1);
}
require(compiled).buildCli().parseAsync(process.argv).catch((error) => {
  process.stderr.write('sightline: ' + error.message + '\n');
  process.exit(1);
});
