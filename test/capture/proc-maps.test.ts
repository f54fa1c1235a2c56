import * as fs from 'node:fs';
import { parseExecutableMappings } from '../../sensor/capture/proc-maps';
import { fileKeyOf } from '../../sensor/capture/tls-library-discovery';

const MAPS = [
  '55d0c0a00000-55d0c0a20000 r--p 00000000 fd:01 1835012                    /usr/bin/curl',
  '55d0c0a20000-55d0c0a50000 r-xp 00020000 fd:01 1835012                    /usr/bin/curl',
  '7f1c2a000000-7f1c2a080000 r-xp 00030000 fd:01 2097411                    /usr/lib/x86_64-linux-gnu/libssl.so.3',
  '7f1c2a080000-7f1c2a090000 r--p 000b0000 fd:01 2097411                    /usr/lib/x86_64-linux-gnu/libssl.so.3',
  '7f1c2b000000-7f1c2b010000 r-xp 00000000 00:2a 99                         /app/lib/my lib.so (deleted)',
  '7f1c2c000000-7f1c2c001000 rw-p 00000000 00:00 0                          [heap]',
  '7ffd1c3fe000-7ffd1c400000 r-xp 00000000 00:00 0                          [vdso]',
  'garbage line',
].join('\n');

test('executable file mappings are listed once per file, with deleted files marked', () => {
  expect(parseExecutableMappings(MAPS)).toEqual([
    { fileKey: 'fd:01:1835012', path: '/usr/bin/curl', range: '55d0c0a20000-55d0c0a50000', deleted: false },
    { fileKey: 'fd:01:2097411', path: '/usr/lib/x86_64-linux-gnu/libssl.so.3', range: '7f1c2a000000-7f1c2a080000', deleted: false },
    { fileKey: '00:2a:99', path: '/app/lib/my lib.so', range: '7f1c2b000000-7f1c2b010000', deleted: true },
  ]);
});

test('a file stat gives the same identity as the kernel prints in /proc/PID/maps', () => {
  const own = parseExecutableMappings(fs.readFileSync('/proc/self/maps', 'utf8'));
  const node = own.find((m) => fs.realpathSync(m.path) === fs.realpathSync(process.execPath));
  expect(node).toBeDefined();
  expect(fileKeyOf(fs.statSync(process.execPath))).toBe(node!.fileKey);
});
