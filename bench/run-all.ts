/**
 * `npm run bench`: every cost bar of the sensor, each against its baseline measured in the same run: capture
 * overhead on ordinary HTTPS traffic and on an LLM tight loop (with the sensor's CPU per call), what a probe hit
 * costs a libssl client by where the probe sits, then throughput and memory at 1,000 calls/s of 8 KiB, and the
 * user-space per-call path alone (hot-path.ts). Options go to the overhead part (see capture-overhead.ts).
 */
import * as path from 'node:path';
import { measureOverhead, summarise, type OverheadOptions } from './capture-overhead';
import { measureProbeSites, summariseProbeSites, type ProbeSiteOptions } from './libssl-probe-sites';
import { measureThroughput, summariseThroughput, type ThroughputOptions } from './sensor-throughput';
import { LAUNCHER_NODE_FLAGS, parseNumericOptions, run } from './support/processes';

async function main(): Promise<void> {
  const overheadOptions = parseNumericOptions(process.argv.slice(2), { seconds: 5, rounds: 3, concurrency: 4, bodyBytes: 1024 }) as OverheadOptions;
  const overhead = await measureOverhead(overheadOptions);
  const probeSites = await measureProbeSites({ calls: 100_000, rounds: overheadOptions.rounds } as ProbeSiteOptions);
  const throughput = await measureThroughput({ rate: 1000, seconds: 10, bodyBytes: 8192 } as ThroughputOptions);
  // In its own node, with the sensor's V8 flags (its young-collection count depends on them); this process
  // keeps node's defaults, as its counting sink must not compete with the sensor more than it has to.
  console.log('user-space hot path (1 KiB calls replayed):');
  const hotPath = await run(process.execPath, [...LAUNCHER_NODE_FLAGS, path.join(__dirname, 'hot-path.js'), '--calls', '20000', '--rounds', String(overheadOptions.rounds)]);
  console.log(hotPath);
  console.log('\nsummary');
  for (const line of summarise(overhead)) console.log(line);
  for (const line of summariseProbeSites(probeSites)) console.log(line);
  console.log('throughput, 1,000 calls/s of 8 KiB:');
  for (const line of summariseThroughput(throughput)) console.log(line);
  for (const line of hotPath.trim().split('\n').slice(-2)) console.log(line);
}

main().catch((error: Error) => {
  console.error(`bench: ${error.message}`);
  process.exit(1);
});
