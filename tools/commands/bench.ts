/**
 * `ecd bench kernels`: Argon2id engines (bench/argon2.ts) and, when bench/crypto.ts is present,
 * the other crypto kernels. bench/crypto.ts is imported dynamically so its absence is not an error.
 *
 * `ecd bench transport`: encrypted frames against raw node:dgram datagrams on loopback, two
 * processes (bench/transport.ts).
 *
 * `ecd bench cluster`: N daemons under a sustained transfer load (tools/commands/bench-cluster.ts).
 *
 * `ecd bench evidence`: the evidence book's add and one fraud check against one Ed25519 verify of a
 * statement (bench/evidence.ts).
 *
 * `ecd bench jobs`: a compute job through two daemons against `podman run` on the same engine:
 * latency per job and jobs/s (bench/jobs.ts).
 */
import type { Command } from 'commander';
import { benchArgon2, type BenchArgon2Result } from '../../bench/argon2.js';
import { benchTransport, type BenchTransportResult } from '../../bench/transport.js';
import { benchEvidence, evidenceTable } from '../../bench/evidence.js';
import { benchJobs, jobsTable } from '../../bench/jobs.js';
import { benchSync, syncTable } from '../../bench/sync.js';
import { registerBenchCluster } from './bench-cluster.js';
import { errorMessage, parseIntInRange, writeJson, writeStderr, writeStdout } from '../cli-util.js';

interface BenchKernelsOptions {
  readonly json?: boolean;
  readonly hashes: number;
  readonly workers?: number;
}

const CRYPTO_BENCH_URL = new URL('../../bench/crypto.js', import.meta.url);

/** bench/crypto.ts's result, null when that module is not built, or an error string when it failed. */
async function maybeBenchCrypto(): Promise<unknown> {
  let mod: { benchCrypto?: () => Promise<unknown> };
  try {
    mod = (await import(CRYPTO_BENCH_URL.href)) as typeof mod;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('bench/crypto.js')) return null;
    return { error: errorMessage(err) };
  }
  if (typeof mod.benchCrypto !== 'function') return null;
  try {
    return await mod.benchCrypto();
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

function argon2Table(r: BenchArgon2Result): string {
  const fmt = (v: number | null): string => (v === null ? 'not installed' : `${v} ms/hash`);
  return [
    `Argon2id m=${r.params.mKiB} KiB t=${r.params.t} p=${r.params.p}, ${r.hashes} hashes each, all engines agree (${r.check_tag.slice(0, 16)}…)`,
    `  ours (${r.ours_engine})  ${fmt(r.ours_ms)}${r.ours_note === null ? '' : `   [${r.ours_note}]`}`,
    `  hash-wasm          ${fmt(r.hash_wasm_ms)}`,
    `  argon2 npm         ${fmt(r.argon2_npm_ms)}`,
    `  libsodium          ${fmt(r.libsodium_ms)}`,
    `  ours ×1 worker     ${r.ours_one_worker_rate} hashes/s`,
    `  ours ×${r.workers} workers    ${r.ours_workers_rate} hashes/s (${r.workers_speedup}× one worker)`,
    `  ours / best alternative: ${r.ratios.ours_over_best_alternative}× the time`,
  ].join('\n');
}

interface BenchTransportCliOptions {
  readonly json?: boolean;
  readonly ms: number;
  readonly rounds: number;
}

function transportTable(r: BenchTransportResult): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const rows: [string, string, string, string][] = [
    ['', 'best', 'median', 'per CPU-s'],
    ['frames/s', n(r.frames_per_s), n(r.median.frames_per_s), n(r.per_cpu_s.frames)],
    ['raw/s', n(r.raw_datagrams_per_s), n(r.median.raw_datagrams_per_s), n(r.per_cpu_s.raw)],
    ['ratio', r.ratio.toFixed(3), r.median.ratio.toFixed(3), r.per_cpu_s.ratio.toFixed(3)],
  ];
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  const drops = Object.entries(r.drop_counts)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${n(v)}`);
  const frameRounds = r.rounds.frames.length;
  return [
    `transport: ${r.datagramBytes}-byte datagrams on loopback, ${frameRounds} round${frameRounds === 1 ? '' : 's'} of ${n(r.datagramsPerPhase)} per phase, AEAD ${r.aead}, outputs checked`,
    ...table.map((l) => `  ${l}`),
    `  drops: ${drops.length === 0 ? 'none' : drops.join(', ')}`,
  ].join('\n');
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks (verify outputs first, then time)');
  bench
    .command('kernels', { isDefault: true })
    .description('Argon2id engines at 64 MiB/t=10/p=1, single-thread and on all workers, plus the crypto kernels when built')
    .option('--json', 'print one JSON object on stdout')
    .option('--hashes <n>', 'timed hashes per engine', parseIntInRange(1, 1000), 3)
    .option('--workers <n>', 'pool workers (default: one per core)', parseIntInRange(1, 256))
    .action(async (opts: BenchKernelsOptions) => {
      const log = opts.json === true ? (): void => undefined : (line: string): void => writeStderr(line);
      const argon2 = await benchArgon2({
        hashes: opts.hashes,
        ...(opts.workers === undefined ? {} : { workers: opts.workers }),
        log,
      });
      const crypto = await maybeBenchCrypto();
      if (opts.json === true) {
        writeJson({ argon2id: argon2, ...(crypto === null ? {} : { crypto }) });
        return;
      }
      writeStdout(argon2Table(argon2));
      if (crypto !== null) writeStdout(`crypto: ${JSON.stringify(crypto)}`);
    });
  bench
    .command('transport')
    .description('authenticated 1 200-byte frames received per second against raw node:dgram datagrams, two processes on loopback')
    .option('--json', 'print one JSON object on stdout')
    .option('--ms <n>', 'target sending time per phase, ms', parseIntInRange(100, 5000), 600)
    .option('--rounds <n>', 'rounds of (raw, frames); best and median are reported', parseIntInRange(1, 10), 3)
    .action(async (opts: BenchTransportCliOptions) => {
      const log = opts.json === true ? (): void => undefined : (line: string): void => writeStderr(line);
      const r = await benchTransport({ durationMs: opts.ms, rounds: opts.rounds, log });
      if (opts.json === true) {
        writeJson(r);
        return;
      }
      writeStdout(transportTable(r));
    });
  bench
    .command('evidence')
    .description('EvidenceBook.add against 32 kept statements and fraudBetween on one pair, as ratios to one Ed25519 verify of a statement')
    .option('--json', 'print one JSON object on stdout')
    .option('--ms <n>', 'measuring time per task, ms', parseIntInRange(50, 10_000), 300)
    .action(async (opts: { readonly json?: boolean; readonly ms: number }) => {
      if (opts.json !== true) writeStderr('evidence: checking outputs, then timing 3 tasks…');
      const r = await benchEvidence({ time: opts.ms });
      if (opts.json === true) {
        writeJson(r);
        return;
      }
      writeStdout(evidenceTable(r));
    });
  bench
    .command('sync')
    .description('sync of missed commits: bytes and time per missed mapping for range-based set reconciliation (run) and the chain walk (counted on the same history), after a restart and for a joiner')
    .option('--peers <n>', 'peers on the ring', parseIntInRange(12, 100_000), 64)
    .option('--tokens <n>', 'tokens', parseIntInRange(100, 1_000_000), 20_000)
    .option('--history <n>', 'transfers before the peer goes down', parseIntInRange(0, 10_000_000), 5_000)
    .option('--missed <n>', 'transfers while it is down', parseIntInRange(1, 1_000_000), 500)
    .option('--seed <n>', 'random seed', parseIntInRange(0, 2 ** 31), 1)
    .option('--json', 'print one JSON object on stdout')
    .action(async (opts: { readonly peers: number; readonly tokens: number; readonly history: number; readonly missed: number; readonly seed: number; readonly json?: boolean }) => {
      const r = await benchSync(opts);
      if (opts.json === true) writeJson(r);
      else writeStdout(syncTable(r));
    });
  bench
    .command('jobs')
    .description('compute jobs: a client daemon and a provider on the engine; outputs checked against podman run, then latency per job and jobs/s against podman run')
    .option('--json', 'print one JSON object on stdout')
    .option('--container-host <url>', 'Docker Engine API the provider uses (env ECD_CONTAINER_HOST)')
    .option('--image <id>', 'image id on the engine, sha256:… (env ECD_JOB_IMAGES, first, or ECD_TEST_IMAGE)')
    .option('--podman <path>', 'podman CLI for the comparison runs, on the same storage as the engine', 'podman')
    .option('--runs <n>', 'timed latency runs of each kind', parseIntInRange(3, 500), 20)
    .option('--jobs <n>', 'jobs in the throughput phase', parseIntInRange(1, 2000), 40)
    .option('--concurrency <n>', 'jobs in flight in the throughput phase', parseIntInRange(1, 64), 4)
    .action(async (opts: { json?: boolean; containerHost?: string; image?: string; podman: string; runs: number; jobs: number; concurrency: number }) => {
      const containerHost = opts.containerHost ?? process.env['ECD_CONTAINER_HOST'];
      const image = opts.image ?? process.env['ECD_JOB_IMAGES']?.split(',')[0] ?? process.env['ECD_TEST_IMAGE'];
      if (containerHost === undefined || containerHost === '' || image === undefined || image === '') {
        throw new Error('bench jobs needs a container engine: --container-host and --image (or ECD_CONTAINER_HOST and ECD_JOB_IMAGES)');
      }
      const r = await benchJobs({ containerHost, image, podman: opts.podman, runs: opts.runs, jobs: opts.jobs, concurrency: opts.concurrency, log: (line) => writeStderr(line) });
      if (opts.json === true) writeJson(r);
      else writeStdout(jobsTable(r));
    });
  registerBenchCluster(bench);
}
