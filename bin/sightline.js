#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --no-allocation-site-pretenuring
// Runs the compiled CLI; `npm run build` produces dist/.
// The small young generation keeps the sensor's resident memory down at 1,000 calls/s: each call's bodies are
// garbage within milliseconds, and V8's default 16 MB semi-spaces would hold far more of it than is alive
// (docs/benchmarks.md). V8 reads the flag only at start, so it is here and in the Dockerfile's entrypoint.
// --no-allocation-site-pretenuring: V8 judges from how many objects of one allocation site outlive a young
// collection whether to make that site's objects in the old generation from then on. In about half of the 10 s runs
// at 1,000 calls/s of 8 KiB it came to that for objects of the per-call path: each dead one there kept what it
// pointed to (the prompt's JSON text, from a sampling heap profile) alive through young collections until a full
// one, the heap grew to 40-60 MB between them and peak RSS to 150-165 MB; with the flag, 19-23 MB and 117-132 MB,
// and the collector's share of the replayed per-call path fell from 11-20% to 4-7% (docs/benchmarks.md).
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
