/**
 * What a probe hit costs a libssl client, by where the probe sits. A Python process (Debian's python3, over the
 * shared libssl.so.3) writes small records over an in-memory TLS connection as fast as it can; no network, no
 * server, so the CPU per SSL_write_ex call is the library's own work plus what the probes add. The connection is
 * not HTTP, so the sensor mutes it at its first write: what is left is the cost of the probe hits themselves.
 *
 * Sides, rounds interleaved: without probes; empty bpftrace programs as entry and return probes on SSL_write_ex
 * (the floor the LLM bar is measured against); empty programs as entry and return probes on the internal function
 * SSL_write_ex calls (where the sensor puts its probe, sensor/capture/openssl-probe-sites.ts); an empty program at
 * that function's entry alone (one trap per call, what a muted call costs any uprobe capture at the least); the
 * sensor.
 *
 *   npm run build:ts && node dist/bench/libssl-probe-sites.js   (options: --calls N per side and round, --rounds N)
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAddon, type NativeBpfObject } from '../sensor/capture/bpf-addon';
import { opensslProbeSites } from '../sensor/capture/openssl-probe-sites';
import { TLS_FUNCTIONS } from '../sensor/capture/tls-library-discovery';
import { generateTestCertificates, type TestCertificates } from '../sensor/demo/test-ca';
import { ROOT, lineFrom, median, parseNumericOptions, requireBpftrace, startSensor, stop } from './support/processes';

const LIBSSL = '/lib/x86_64-linux-gnu/libssl.so.3';
const PYTHON = '/usr/bin/python3';
type Side = 'without' | 'bpftrace at SSL_write_ex' | 'empty programs at the internal function' | 'an empty entry program at the internal function' | 'sensor';
const SIDES: Side[] = ['without', 'bpftrace at SSL_write_ex', 'empty programs at the internal function', 'an empty entry program at the internal function', 'sensor'];

/** Prints the CPU microseconds (user + system) per SSL_write_ex call over argv[4] calls, after a warm-up. */
const WRITE_LOOP = `
import resource, ssl, sys
cert, key, ca, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); server_context.load_cert_chain(cert, key)
client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); client_context.load_verify_locations(ca); client_context.check_hostname = False
client_in, client_out, server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
client = client_context.wrap_bio(client_in, client_out, server_hostname='localhost')
server = server_context.wrap_bio(server_in, server_out, server_side=True)
for _ in range(20):
    for side in (client, server):
        try: side.do_handshake()
        except ssl.SSLWantReadError: pass
    server_in.write(client_out.read()); client_in.write(server_out.read())
record = b'\\x16 not HTTP, a binary record ' * 2
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF); return usage.ru_utime + usage.ru_stime
for _ in range(1000): client.write(record); client_out.read()
start = cpu()
for _ in range(calls): client.write(record); client_out.read()
print((cpu() - start) * 1e6 / calls)
`;

const EMPTY_PROGRAMS = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("uprobe") int empty_entry(void *ctx) { return 0; }
SEC("uretprobe") int empty_return(void *ctx) { return 0; }
`;

export interface ProbeSiteOptions extends Record<string, number> {
  calls: number;
  rounds: number;
}

export type ProbeSiteReport = Record<Side, number[]>;

function writeLoop(script: string, certs: TestCertificates, calls: number): Promise<number> {
  return new Promise((resolve, reject) =>
    execFile(PYTHON, [script, certs.certPath, certs.keyPath, certs.caCertPath, String(calls)], (error, stdout, stderr) =>
      error ? reject(new Error(`python write loop failed: ${stderr || error.message}`)) : resolve(Number(stdout)),
    ),
  );
}

/** Empty programs at `offset`: at entry, and with `returns` at the return too. */
function attachEmptyPrograms(dir: string, offset: number, returns: boolean): NativeBpfObject {
  const source = path.join(dir, 'empty_programs.bpf.c');
  const object = path.join(dir, 'empty_programs.bpf.o');
  fs.writeFileSync(source, EMPTY_PROGRAMS);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I${path.join(ROOT, 'bpf', 'src')}`, '-c', source, '-o', object]);
  const bpf = new (loadAddon().BpfObject)(object);
  bpf.attachUprobe('empty_entry', LIBSSL, offset, false);
  if (returns) bpf.attachUprobe('empty_return', LIBSSL, offset, true);
  return bpf;
}

export async function measureProbeSites(options: ProbeSiteOptions, log: (line: string) => void = console.log): Promise<ProbeSiteReport> {
  requireBpftrace();
  if (!fs.existsSync(LIBSSL) || !fs.existsSync(PYTHON)) throw new Error(`the libssl row needs ${LIBSSL} and ${PYTHON} (apt-get install python3 libssl3)`);
  const addon = loadAddon();
  const symbols = addon.findElfSymbols(LIBSSL, [...TLS_FUNCTIONS]);
  const sites = opensslProbeSites(LIBSSL, symbols, addon);
  const internal = sites.internal.includes('SSL_write_ex') ? sites.offsets.SSL_write_ex! : undefined;
  if (internal === undefined) throw new Error(`${LIBSSL}: SSL_write_ex is no wrapper of an internal function here; the row compares the two sites`);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-probe-sites-'));
  const report = Object.fromEntries(SIDES.map((side) => [side, [] as number[]])) as ProbeSiteReport;
  try {
    const certs = await generateTestCertificates(path.join(work, 'tls'));
    const script = path.join(work, 'write_loop.py');
    fs.writeFileSync(script, WRITE_LOOP);
    log(`libssl probe sites: ${options.rounds} rounds x ${options.calls} SSL_write_ex calls per side, ${LIBSSL} (internal function at file offset 0x${internal.toString(16)})`);
    for (let round = 0; round < options.rounds; round++) {
      for (const side of SIDES.map((_, i) => SIDES[(i + round) % SIDES.length])) {
        let release: () => Promise<void> = async () => undefined;
        if (side === 'bpftrace at SSL_write_ex') {
          const probes = spawn('bpftrace', ['-e', `uprobe:${LIBSSL}:SSL_write_ex {} uretprobe:${LIBSSL}:SSL_write_ex {}`], { stdio: ['ignore', 'pipe', 'pipe'] });
          await lineFrom(probes, 'stdout', /Attaching \d+ probes?/, 60_000);
          await new Promise((resolve) => setTimeout(resolve, 500));
          release = () => stop(probes);
        } else if (side === 'empty programs at the internal function' || side === 'an empty entry program at the internal function') {
          const bpf = attachEmptyPrograms(work, internal, side === 'empty programs at the internal function');
          release = async () => bpf.close();
        } else if (side === 'sensor') {
          const dir = fs.mkdtempSync(path.join(work, 'sensor-'));
          const sensor = await startSensor(dir, ['--otlp-file', path.join(dir, 'spans.jsonl')]);
          release = () => stop(sensor.child);
        }
        try {
          report[side].push(await writeLoop(script, certs, options.calls));
        } finally {
          await release();
        }
      }
      log(`  round ${round + 1}: ${SIDES.map((side) => `${side} ${report[side][round].toFixed(2)} us`).join(', ')}`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return report;
}

export function summariseProbeSites(report: ProbeSiteReport): string[] {
  const cost = (side: Side) => median(report[side].map((value, round) => value - report.without[round]));
  return [
    `libssl client (python, SSL_write_ex on a muted connection): CPU per call without probes ${median(report.without).toFixed(2)} us (median); added per call, median of the differences within each round:`,
    ...SIDES.slice(1).map((side) => `  ${side}: +${cost(side).toFixed(2)} us`),
    `  sensor / bpftrace floor, in added CPU per call = ${(cost('sensor') / cost('bpftrace at SSL_write_ex')).toFixed(3)}`,
    // A muted call's hit is one trap at entry: the least any uprobe capture pays per call (the ordinary-traffic bar).
    `  sensor / one trap with an empty program at the same site = ${(cost('sensor') / cost('an empty entry program at the internal function')).toFixed(3)}`,
  ];
}

if (require.main === module) {
  const options = parseNumericOptions(process.argv.slice(2), { calls: 100_000, rounds: 5 }) as ProbeSiteOptions;
  measureProbeSites(options)
    .then((report) => console.log(summariseProbeSites(report).join('\n')))
    .catch((error: Error) => {
      console.error(`bench: ${error.message}`);
      process.exit(1);
    });
}
