/**
 * The OpenSSL probe sites: on a wrapper (`sub rsp; call internal`) the probe moves to the internal function, whose
 * first instruction (a push) the kernel emulates, and the public function that calls the same internal function
 * loses its own probe so no call is seen twice.
 */
import * as fs from 'node:fs';
import { loadAddon } from '../../sensor/capture/bpf-addon';
import { branchesTo, opensslProbeSites, startsWithPush, wrappedCallTarget } from '../../sensor/capture/openssl-probe-sites';
import { TLS_FUNCTIONS } from '../../sensor/capture/tls-library-discovery';

const bytes = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

test('a wrapper that only makes room on the stack before its call names the call target', () => {
  // sub $0x8,%rsp; call rel32 (-0x479 from the next instruction)
  expect(wrappedCallTarget(bytes('48 83 ec 08 e8 87 fb ff ff 31 d2'), 0x35a10)).toBe(0x355a0);
  expect(wrappedCallTarget(bytes('f3 0f 1e fa 48 83 ec 08 e8 87 fb ff ff'), 0x35a0c)).toBe(0x355a0);
});

test('any other start is no wrapper: a frame, an argument register changed, or no call', () => {
  expect(wrappedCallTarget(bytes('55 48 89 e5 41 56 e8 00 00 00 00'), 0x1000)).toBeUndefined();
  expect(wrappedCallTarget(bytes('48 89 f7 e8 00 00 00 00'), 0x1000)).toBeUndefined(); // mov %rsi,%rdi first
  expect(wrappedCallTarget(bytes('48 83 ec 08 31 c0 c3'), 0x1000)).toBeUndefined();
  expect(wrappedCallTarget(bytes(''), 0x1000)).toBeUndefined();
});

test('a push starts a function the kernel can probe cheaply; a stack adjustment does not', () => {
  expect(startsWithPush(bytes('41 56 41 55'))).toBe(true);
  expect(startsWithPush(bytes('55 48 89 e5'))).toBe(true);
  expect(startsWithPush(bytes('48 83 ec 08'))).toBe(false);
});

test('a direct call or jump to a target is found anywhere in a function', () => {
  // sub; ...; call 0x355a0 at 0x3599e; jle; ret
  const code = bytes('48 83 ec 18 85 d2 78 2f 48 89 e1 48 63 d2 e8 fd fb ff ff 85 c0 7e 03 c3');
  expect(branchesTo(code, 0x35990, [0x355a0])).toBe(true);
  expect(branchesTo(code, 0x35990, [0x35290])).toBe(false);
});

test("this machine's libssl: the read and write probes go on the internal functions, once per direction", () => {
  const addon = loadAddon();
  const library = '/lib/x86_64-linux-gnu/libssl.so.3';
  const offsets = addon.findElfSymbols(library, [...TLS_FUNCTIONS]);
  const sites = opensslProbeSites(library, offsets, addon);
  expect(sites.internal).toEqual(['SSL_write_ex', 'SSL_read_ex']);
  expect(sites.offsets.SSL_write).toBeUndefined();
  expect(sites.offsets.SSL_read).toBeUndefined();
  expect(sites.offsets.SSL_free).toBe(offsets.SSL_free);
  expect(sites.offsets.SSL_set_fd).toBe(offsets.SSL_set_fd);
  const code = fs.readFileSync(library);
  for (const fn of ['SSL_write_ex', 'SSL_read_ex'] as const) {
    expect(sites.offsets[fn]).not.toBe(offsets[fn]);
    // The site's first instruction is a push of a callee-saved register (41 5x: r12-r15; 5x: rbx/rbp).
    expect(code[sites.offsets[fn]!] === 0x41 || (code[sites.offsets[fn]!] & 0xf8) === 0x50).toBe(true);
  }
});

test('node (OpenSSL linked in, functions starting with push %rbp) keeps every probe on the public functions', () => {
  const addon = loadAddon();
  const offsets = addon.findElfSymbols(process.execPath, [...TLS_FUNCTIONS]);
  expect(opensslProbeSites(process.execPath, offsets, addon)).toEqual({ offsets, internal: [] });
});

test('a file that cannot be read keeps its probes where they were', () => {
  const addon = loadAddon();
  const offsets = { SSL_write: 0x100, SSL_write_ex: 0x200, SSL_read: 0x300, SSL_read_ex: 0x400 };
  expect(opensslProbeSites('/nonexistent/libssl.so.3', offsets, addon)).toEqual({ offsets, internal: [] });
});
