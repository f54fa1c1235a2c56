#!/usr/bin/env node
// Runs the compiled vendor CLI; `npm run build:ts` produces dist/.
const path = require('node:path');
const fs = require('node:fs');
const compiled = path.join(__dirname, '..', 'dist', 'bin', 'sightline-vendor.js');
if (!fs.existsSync(compiled)) {
  process.stderr.write('sightline-vendor: not built yet: run `npm run build:ts` in ' + path.join(__dirname, '..') + '\n');
  process.exit(1);
}
require(compiled).buildVendorCli().parseAsync(process.argv).catch((error) => {
  process.stderr.write('sightline-vendor: ' + error.message + '\n');
  process.exit(1);
});
