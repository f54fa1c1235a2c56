/**
 * The Go row of the capture overhead bench: an LLM tight loop written in Go (net/http, crypto/tls; built here with
 * the machine's Go) against the bench server, as a ratio of rates measured in the same run, rounds interleaved:
 * the sensor against empty probes at the same points, and the sensor's CPU per captured call.
 *
 * The floor: empty BPF programs on exactly the instructions the sensor probes in the client (Write and Read at
 * their stack check, every RET of Read, Close), attached through the same addon. Not bpftrace: its uretprobes are
 * what Go forbids, and Debian's bpftrace refuses a uprobe inside a function ("compiled without (k|u)probe offset
 * support"), so it could only probe the three entries, fewer hits per call than the sensor pays.
 *
 * The sensor side runs as the node loop's does: shipping OTLP over TLS with a bearer token to a counting sink, its
 * CPU per call counted after the warm-up a long-running sensor is past (support/sensor-warm-up.ts).
 *
 * Called by capture-overhead.ts with its workspace and server.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAddon, type NativeBpfObject } from '../sensor/capture/bpf-addon';
import { inspectGoExecutable, type GoTlsProbes } from '../sensor/capture/go-executable';
import { goProbes } from '../sensor/capture/tls-probes';
import { ROOT, median, medianRoundRatio, metric, run, shipToSink, startSensor, stop } from './support/processes';
import { CountingOtlpSink } from './support/span-sinks';
import type { Workspace } from './support/workloads';
import { WARM_UP_CLIENTS, measureAfterWarmUp } from './support/sensor-warm-up';
import type { OverheadReport, SideResult } from './capture-overhead';

/** The sides measured here; the report has capture-overhead.ts's shape, its local-mode side left empty. */
type GoSide = 'without' | 'empty probes' | 'sensor';
const SIDES: GoSide[] = ['without', 'empty probes', 'sensor'];

export interface GoOverheadOptions {
  seconds: number;
  rounds: number;
  concurrency: number;
  bodyBytes: number;
}

/** Keeps `concurrency` chat completions in flight over HTTP/1.1 keep-alive connections for `seconds`; prints calls per second. */
const GO_LOOP_CLIENT = `package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	ca, _ := os.ReadFile(os.Args[1])
	port := os.Args[2]
	seconds, _ := strconv.Atoi(os.Args[3])
	concurrency, _ := strconv.Atoi(os.Args[4])
	bodyBytes, _ := strconv.Atoi(os.Args[5])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: concurrency}}
	filler := strings.Repeat("q", bodyBytes-150)
	body := []byte(\`{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"Answer briefly."},{"role":"user","content":"\` + filler + \`"}]}\`)
	url := "https://127.0.0.1:" + port + "/v1/chat/completions"
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	var done int64
	var wg sync.WaitGroup
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer sk-bench-not-a-real-key")
				resp, err := client.Do(req)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	wg.Wait()
	fmt.Println(float64(done) / float64(seconds))
}
`;

const EMPTY_PROBE = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("uprobe") int empty_probe(void *ctx) { return 0; }
`;

function buildGoClient(dir: string): string {
  const source = path.join(dir, 'go-loop-client-src');
  fs.mkdirSync(source, { recursive: true });
  fs.writeFileSync(path.join(source, 'go.mod'), 'module sightline.bench/loop\n\ngo 1.19\n');
  fs.writeFileSync(path.join(source, 'main.go'), GO_LOOP_CLIENT);
  const binary = path.join(dir, 'go-loop-client');
  try {
    execFileSync('go', ['build', '-o', binary, '.'], {
      cwd: source,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GOCACHE: path.join(os.tmpdir(), 'sightline-go-build-cache'), GOPATH: path.join(dir, 'gopath'), GOPROXY: 'off', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    });
  } catch (error) {
    throw new Error(`the Go row needs Debian's Go to build its client (apt-get install golang-go): ${(error as Error).message}`);
  }
  return binary;
}

/** The probe points as file offsets, each attached to an empty program: what any uprobe-based Go capture pays. */
function attachEmptyProbes(dir: string, binary: string, points: GoTlsProbes): NativeBpfObject {
  const source = path.join(dir, 'empty_probe.bpf.c');
  const object = path.join(dir, 'empty_probe.bpf.o');
  fs.writeFileSync(source, EMPTY_PROBE);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I${path.join(ROOT, 'bpf', 'src')}`, '-c', source, '-o', object]);
  const bpf = new (loadAddon().BpfObject)(object);
  for (const offset of probeOffsets(points)) bpf.attachUprobe('empty_probe', binary, offset, false);
  return bpf;
}

/** Exactly where the sensor puts its probes in the client. */
function probeOffsets(points: GoTlsProbes): number[] {
  return goProbes(points).map((probe) => probe.offset);
}

/** How one side's client runs: for the measured seconds, and for any other number of seconds (warm-ups). */
interface GoClient {
  measured: () => Promise<number>;
  runFor: (seconds: number) => Promise<number>;
}

async function measureSide(side: GoSide, clients: GoClient, workspace: Workspace, binary: string, points: GoTlsProbes, seconds: number, round: number): Promise<SideResult> {
  if (side === 'without') return { rate: await clients.measured() };
  if (side === 'empty probes') {
    const probes = attachEmptyProbes(workspace.dir, binary, points);
    try {
      return { rate: await clients.measured() };
    } finally {
      probes.close();
    }
  }
  const sideDir = fs.mkdtempSync(path.join(workspace.dir, `go-sensor-${round}-`));
  const sink = new CountingOtlpSink();
  // As the node loop's sensor runs, and the DaemonSet: OTLP over TLS with a bearer token.
  const shipping = await shipToSink(sideDir, sink, workspace.certs);
  const sensor = await startSensor(sideDir, shipping.args, shipping.config);
  try {
    // The same traffic first, as for the node loop: the sensor's start-up work (its first scans of the new client,
    // compiling the per-call path) is not what a call costs (support/sensor-warm-up.ts).
    const result = await measureAfterWarmUp({
      pid: sensor.pid,
      spans: () => sink.spans,
      runFor: clients.runFor,
      measure: async () => ({ rate: await clients.measured() }),
      seconds,
    });
    return { ...result, droppedBytes: metric(await sensor.metrics(), 'sightline_capture_dropped_bytes_total') };
  } finally {
    await stop(sensor.child);
    await sink.close();
  }
}

export async function measureGoOverhead(workspace: Workspace, port: string, options: GoOverheadOptions, log: (line: string) => void): Promise<OverheadReport> {
  const binary = buildGoClient(workspace.dir);
  const points = inspectGoExecutable(binary, loadAddon());
  if (!points) throw new Error(`bench: ${binary} has no crypto/tls functions to probe`);
  const args = [workspace.certs.caCertPath, port, String(options.seconds), String(options.concurrency), String(options.bodyBytes)];
  const clients: GoClient = {
    measured: () => run(binary, args).then(Number),
    runFor: (seconds) => run(binary, [workspace.certs.caCertPath, port, String(seconds), String(options.concurrency), String(options.bodyBytes)]).then(Number),
  };
  await clients.runFor(1); // the server's and the machine's own warm-up, before any side
  const report: OverheadReport = {
    scenario: `Go LLM tight loop (net/http, ${points.goVersion}, POST /v1/chat/completions; empty probes at the sensor's ${probeOffsets(points).length} probe points)`,
    // Only the Go sides are measured and read, as each node scenario holds only its own sides.
    results: Object.fromEntries(SIDES.map((side) => [side, [] as SideResult[]])) as OverheadReport['results'],
  };
  log(`${report.scenario}:`);
  for (let round = 0; round < options.rounds; round++) {
    const order = SIDES.map((_, i) => SIDES[(i + round) % SIDES.length]);
    for (const side of order) report.results[side].push(await measureSide(side, clients, workspace, binary, points, options.seconds, round));
    log(`  round ${round + 1}: ${SIDES.map((side) => `${side} ${report.results[side][round].rate.toFixed(0)}/s`).join(', ')}`);
  }
  return report;
}

export function summariseGo(report: OverheadReport): string[] {
  const rate = (side: GoSide) => median(report.results[side].map((r) => r.rate));
  const ratio = medianRoundRatio(report.results.sensor, report.results['empty probes']);
  const cpu = median(report.results.sensor.map((r) => r.cpuMicrosPerCall ?? NaN));
  const dropped = report.results.sensor.reduce((sum, r) => sum + (r.droppedBytes ?? 0), 0);
  const warmUpCpu = median(report.results.sensor.map((r) => r.warmUpCpuMicrosPerCall ?? NaN));
  const warmUpCalls = median(report.results.sensor.map((r) => r.warmUpCalls ?? NaN));
  return [
    `${report.scenario}: without ${rate('without').toFixed(0)}/s, empty probes ${rate('empty probes').toFixed(0)}/s, sensor ${rate('sensor').toFixed(0)}/s`,
    `  sensor / empty probes = ${ratio.toFixed(3)} (bar >= 0.80: ${ratio >= 0.8 ? 'met' : 'NOT met'}); empty probes / without = ${medianRoundRatio(report.results['empty probes'], report.results.without).toFixed(3)}; ${cpu.toFixed(1)} us of sensor CPU per captured call (median; bar <= 50: ${cpu <= 50 ? 'met' : 'NOT met'}; over the warm-up after its start, ${warmUpCalls.toFixed(0)} calls in ${WARM_UP_CLIENTS} client processes, ${warmUpCpu.toFixed(1)} us per call); spans at the sink per round ${report.results.sensor.map((r) => r.spans ?? 0).join(', ')}; dropped bytes ${dropped}`,
  ];
}

if (require.main === module) {
  // The Go row alone: npm run build:ts && node dist/bench/go-overhead.js [--seconds N --rounds N --concurrency N --body-bytes N]
  void (async () => {
    const { parseNumericOptions, lineFrom } = await import('./support/processes');
    const { prepareWorkspace } = await import('./support/workloads');
    const { spawn } = await import('node:child_process');
    const options = parseNumericOptions(process.argv.slice(2), { seconds: 5, rounds: 3, concurrency: 4, bodyBytes: 1024 });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-go-overhead-'));
    const workspace = await prepareWorkspace(work);
    const server = spawn(process.execPath, [workspace.script('server'), workspace.certs.certPath, workspace.certs.keyPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = (await lineFrom(server, 'stdout', /\d+/, 10_000))[0];
      console.log(summariseGo(await measureGoOverhead(workspace, port, options, console.log)).join('\n'));
    } finally {
      await stop(server, 'SIGTERM');
      fs.rmSync(work, { recursive: true, force: true });
    }
  })().catch((error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exit(1);
  });
}
