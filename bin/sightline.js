#!/usr/bin/env node
// Runs the compiled CLI; `npm run build` produces dist/.
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
