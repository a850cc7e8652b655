/**
 * `ecd bench cluster`: N daemons on loopback under a sustained offered load of 1-token transfers
 * (bench/cluster.ts). Registered under `ecd bench` by tools/commands/bench.ts.
 */
import { Option, type Command } from 'commander';
import { benchCluster, type BenchClusterResult } from '../../bench/cluster.js';
import { parseIntInRange, profileNamed, writeJson, writeStderr, writeStdout } from '../cli-util.js';
import { PROFILE_NAMES } from '../../wire/profiles.js';

interface BenchClusterCliOptions {
  readonly nodes: number;
  readonly duration: number;
  readonly warmup: number;
  readonly maxTransfers: number;
  readonly tokens: number;
  readonly rate: number;
  readonly profile: string;
  readonly store: 'lmdb' | 'memory';
  readonly dir?: string;
  readonly inProcess?: boolean;
  readonly json?: boolean;
  readonly profileOut?: string;
}

function table(r: BenchClusterResult): string {
  const failed = Object.entries(r.failed).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return [
    `cluster: ${r.nodes} daemons (${r.profile}, ${r.store}${r.in_process ? ', in one process' : ''}), ${r.tokens} tokens, offered ${r.offered_per_s} transfers/s, measured over ${r.load_s} s after a ${r.warmup_s} s warm-up`,
    `  committed         ${r.committed} of ${r.submitted} submitted, ${r.measured} of them in the measured window (failed: ${failed})`,
    `  commits/s         ${r.commits_per_s}   (target ≥ ${r.target.commits_per_s})`,
    `  latency p50/p95/p99  ${r.p50_ms} / ${r.p95_ms} / ${r.p99_ms} ms   (target p99 ≤ ${r.target.p99_ms})`,
    `  event-loop delay  p99 ≤ ${r.event_loop_delay_p99_ms ?? '-'} ms at the worst daemon (lateness of its tick timers)`,
    `  frames/commit     ${r.frames_per_commit}   (${r.frames_sent} frames sent by all daemons; ${r.daemon_commits} daemon-level commits)`,
    `  messages/commit   ${Object.entries(r.messages_per_commit).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `  items/commit      ${r.items_per_commit}   (vote items ${r.vote_items_per_commit}, of them decisions after a commit ${r.decided_per_commit})`,
    `  items by cause    ${Object.entries(r.items_by_cause).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `  CPU ms/commit     ${r.cpu_ms_per_commit}   (${r.cpu_s} CPU s in the daemons)${r.generator_cpu_ms_per_commit === null ? '' : `; load generator ${r.generator_cpu_ms_per_commit} on the same cores`}`,
    `  target ${r.target.met ? 'met' : 'not met'}`,
  ].join('\n');
}

export function registerBenchCluster(bench: Command): void {
  bench
    .command('cluster')
    .description('N daemons on loopback under a sustained load of 1-token transfers: commits/s, latency, frames and CPU per commit')
    .option('--nodes <n>', 'daemons to start', parseIntInRange(2, 64), 16)
    .option('--duration <s>', 'measured load phase length in seconds', parseIntInRange(1, 600), 20)
    .option('--warmup <s>', 'load offered before the measured phase, left out of every figure (JIT warm-up; 0 = measure from the first transfer)', parseIntInRange(0, 600), 5)
    .option('--max-transfers <n>', 'most transfers offered in total, warm-up included', parseIntInRange(1, 1_000_000), 50_000)
    .option('--tokens <n>', 'token pool = most transfers in flight', parseIntInRange(1, 6_000), 256)
    .option('--rate <n>', 'offered transfers per second', parseIntInRange(1, 100_000), 1_000)
    .addOption(new Option('--profile <name>', 'network profile of the daemons').choices(PROFILE_NAMES).default('devnet'))
    .addOption(new Option('--store <kind>', 'daemon store').choices(['lmdb', 'memory']).default('lmdb'))
    .option('--dir <dir>', 'working directory to keep (default: a temporary one, removed); identities found there are reused with empty stores and peer tables, so runs on the same --dir compare like with like (results vary ±25 % between fresh identity sets)')
    .option('--in-process', 'run every daemon inside this process (one event loop, no HTTP): the code\'s own cost, without N processes sharing the cores')
    .option('--json', 'print one JSON object on stdout')
    .option('--profile-out <file>', 'write a CPU profile (.cpuprofile: Chrome DevTools, speedscope) of daemon n1 over the measured window (30 s at most); with --in-process, of the whole process')
    .action(async (opts: BenchClusterCliOptions) => {
      const r = await benchCluster({
        nodes: opts.nodes,
        durationMs: opts.duration * 1000,
        warmupMs: opts.warmup * 1000,
        maxTransfers: opts.maxTransfers,
        tokens: opts.tokens,
        rate: opts.rate,
        profile: profileNamed(opts.profile, 'devnet'),
        store: opts.store,
        inProcess: opts.inProcess === true,
        ...(opts.dir === undefined ? {} : { dir: opts.dir, keepDir: true }),
        ...(opts.profileOut === undefined ? {} : { profileOut: opts.profileOut }),
        log: (line) => writeStderr(line),
      });
      if (opts.json === true) writeJson(r);
      else writeStdout(table(r));
    });
}
