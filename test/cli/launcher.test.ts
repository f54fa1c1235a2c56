/**
 * bin/sightline.js's first line is what starts every `npx sightline`: run it as the kernel does (the interpreter
 * line's program with the rest of the line as one argument, here followed by code instead of the script), and the
 * node it starts has the launcher's V8 flags and malloc setting.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

test('the launcher line starts node with 4 MB semi-spaces, no allocation-site pretenuring and two malloc arenas', () => {
  const launcher = path.join(__dirname, '..', '..', 'bin', 'sightline.js');
  const firstLine = fs.readFileSync(launcher, 'utf8').split('\n')[0];
  const match = /^#!(\S+) (.*)$/.exec(firstLine);
  expect(match).not.toBeNull();
  const [, interpreter, argument] = match!;
  const env = { ...process.env };
  delete env.MALLOC_ARENA_MAX;
  const out = execFileSync(interpreter, [argument, '-e', 'console.log(JSON.stringify({ arenas: process.env.MALLOC_ARENA_MAX, flags: process.execArgv }))'], { env, encoding: 'utf8' });
  const started = JSON.parse(out) as { arenas?: string; flags: string[] };
  expect(started.arenas).toBe('2');
  expect(started.flags).toContain('--max-semi-space-size=4');
  expect(started.flags).toContain('--no-allocation-site-pretenuring');
});
