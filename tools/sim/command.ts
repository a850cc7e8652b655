/**
 * `ecd sim`: runs the deterministic simulator and prints its report. Register it with
 * `registerSim(program)` (tools/program.ts's COMMANDS list).
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { CliError, parseIntInRange, writeJson, writeStderr, writeStdout } from '../cli-util.js';
import { runSimulation } from './engine.js';
import { DEFAULT_CONSENSUS_PARAMS, type ConsensusParams } from '../../consensus/params.js';
import type { Churn, Partition, SimReport } from './engine.js';
import { NET_PROFILES } from './network.js';
import type { NetProfileName } from './network.js';
import { TOPOLOGIES } from './topology.js';
import type { TopologyName } from './topology.js';

interface SimCliOptions {
  readonly peers: number;
  readonly ticks: number;
  readonly drain: number;
  readonly topology: TopologyName;
  readonly net: NetProfileName;
  readonly rate: number;
  readonly tokens: number;
  readonly conflicts: number;
  readonly transfers: number;
  readonly byzantine: number;
  readonly byzantineKind: 'silent' | 'forger';
  readonly seed: number;
  readonly commitDelay: number;
  readonly param: Record<string, number | boolean>;
  readonly partition: Partition[];
  readonly churn?: Churn;
  readonly json?: boolean;
}

/**
 * `--param name=value`: any numeric or boolean consensus parameter (consensus/params.ts), for
 * experiments such as `--param memberPolls=true --param firstWaveTargets=3`.
 */
export function parseParam(value: string, previous: Record<string, number | boolean> = {}): Record<string, number | boolean> {
  const m = /^([A-Za-z]+)=(.+)$/.exec(value);
  const defaults = DEFAULT_CONSENSUS_PARAMS as unknown as Record<string, unknown>;
  if (m === null) throw new InvalidArgumentError('expected name=value');
  const [, name, raw] = m as unknown as [string, string, string];
  const d = Object.hasOwn(defaults, name) ? defaults[name] : undefined;
  if (typeof d === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new InvalidArgumentError(`${name} is a boolean: true or false`);
    return { ...previous, [name]: raw === 'true' };
  }
  if (typeof d === 'number') {
    const n = Number(raw);
    if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} is a non-negative integer`);
    return { ...previous, [name]: n };
  }
  const known = Object.keys(defaults).filter((k) => typeof defaults[k] === 'number' || typeof defaults[k] === 'boolean');
  throw new InvalidArgumentError(`unknown consensus parameter ${name} (one of ${known.join(', ')})`);
}

function parseFraction(value: string): number {
  const n = Number(value);
  if (!/^[0-9.]+$/.test(value) || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number in 0..1');
  return n;
}

function parseRate(value: string): number {
  const n = Number(value);
  if (!/^[0-9.]+$/.test(value) || !Number.isFinite(n) || n <= 0 || n > 1000) throw new InvalidArgumentError('expected a number in (0, 1000]');
  return n;
}

/** `start:end:fraction`, repeatable: ticks [start, end) with that fraction of peers cut off. */
function parsePartition(value: string, previous: Partition[] = []): Partition[] {
  const m = /^(\d+):(\d+):([0-9.]+)$/.exec(value);
  const start = Number(m?.[1]);
  const end = Number(m?.[2]);
  const fraction = Number(m?.[3]);
  if (m === null || !(end > start) || !(fraction > 0 && fraction < 1)) throw new InvalidArgumentError('expected start:end:fraction with end > start and 0 < fraction < 1');
  return [...previous, { start, end, fraction }];
}

/** `rate[:downTicks]`: per-tick crash probability of each peer, mean ticks down (default 20). */
function parseChurn(value: string): Churn {
  const m = /^([0-9.]+)(?::(\d+))?$/.exec(value);
  const rate = Number(m?.[1]);
  const downTicks = m?.[2] === undefined ? 20 : Number(m[2]);
  if (m === null || !(rate >= 0 && rate < 1) || !(downTicks >= 1)) throw new InvalidArgumentError('expected rate[:downTicks] with 0 ≤ rate < 1 and downTicks ≥ 1');
  return { rate, downTicks };
}

export function formatReport(r: SimReport): string {
  const o = r.options;
  const f = r.families;
  const l = r.latency;
  return [
    `ecd sim: ${o.peers} peers, ${o.topology} topology, ${o.net} network, seed ${o.seed}`,
    `  workload      ${o.ticks} ticks (+${o.drainTicks} drain), ${o.blocksPerTick} families/tick, ${o.tokensPerBlock} token(s)/block, ${Math.round(o.conflicts * 100)} % conflicts, ${Math.round(o.transfers * 100)} % transfers, byzantine silent ${o.silent} forgers ${o.forgers}`,
    `  blocks        submitted ${r.blocks.submitted} (${r.blocks.transfers} transfers), committed at entry ${r.blocks.committedAtEntry}, committed anywhere ${r.blocks.committedAnywhere}`,
    `  latency       p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} max ${l.max} ticks (submission → entry peer commit)`,
    `  messages      ${r.messages.frames} frames (${r.messages.items} items), ${r.messages.perCommit} frames per committed block; spread ${r.spread} peers per block`,
    `  items by cause ${Object.entries(r.messages.byCause).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `  conflicts     ${f.conflicted} families: highest only ${f.highest}, stalled ${f.stalled}, lower somewhere ${f.lowerSomewhere}, two ways ${f.twoWays}`,
    `  hosts         ${r.hostCoverage === null ? '-' : Math.round(r.hostCoverage * 1000) / 10} % of the peers hosting a committed block's token hold it`,
    `  faults        ${o.partitions.length} partition(s), churn ${o.churn === null ? 'off' : `${o.churn.rate}/tick, ~${o.churn.downTicks} ticks down`}: ${r.faults.crashes} crashes, ${r.faults.partitionDrops} messages cut by partitions, ${r.faults.downDrops} lost at down peers`,
    `  invariants    ${r.invariants.violations === 0 ? 'held' : `${r.invariants.violations} violations: ${r.invariants.first.join('; ')}`}`,
    `  speed         ${r.speed.wallMs} ms wall, ${r.speed.framesPerSecond} frames/s`,
  ].join('\n');
}

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('deterministic simulation of N consensus peers in one process (every run reproducible from its seed)')
    .option('--peers <n>', 'number of peers', parseIntInRange(2, 1_000_000), 200)
    .option('--ticks <n>', 'ticks with workload', parseIntInRange(1, 1_000_000), 100)
    .option('--drain <n>', 'extra ticks without workload at the end', parseIntInRange(0, 1_000_000), 40)
    .addOption(new Option('--topology <name>', 'peer graph').choices(TOPOLOGIES).default('dense'))
    .addOption(new Option('--net <profile>', 'network profile').choices(NET_PROFILES).default('same-dc'))
    .option('--rate <n>', 'block families submitted per tick', parseRate, 1)
    .option('--tokens <n>', 'tokens per block', parseIntInRange(1, 6), 1)
    .option('--conflicts <f>', 'fraction of families that are double spends', parseFraction, 0)
    .option('--transfers <f>', 'fraction of families that transfer a token whose last block committed at its entry peer (1 token per block) instead of creating tokens', parseFraction, 0)
    .option('--byzantine <f>', 'fraction of byzantine peers', parseFraction, 0)
    .addOption(new Option('--byzantine-kind <kind>', 'what byzantine peers do').choices(['silent', 'forger']).default('silent'))
    .option('--commit-delay <n>', 'ticks a block must be valid here before it may commit (0 = PROTOCOL §5.3 as written)', parseIntInRange(0, 1000), 5)
    .option('--param <name=value>', 'override a consensus parameter (consensus/params.ts; repeatable)', parseParam, {})
    .option('--partition <start:end:fraction>', 'cut a seeded fraction of peers off during ticks [start, end) (repeatable)', parsePartition, [])
    .option('--churn <rate[:down]>', 'each peer crashes with this probability per tick, down ~down ticks (default 20), restarts with its store', parseChurn)
    .option('--seed <n>', 'random seed', parseIntInRange(0, Number.MAX_SAFE_INTEGER), 1)
    .option('--json', 'print one JSON object on stdout')
    .action((opts: SimCliOptions) => {
      if (opts.topology === 'full' && opts.peers > 2000) throw new CliError('the full topology holds N² links; use --peers ≤ 2000 or another topology');
      const started = Date.now();
      const report = runSimulation({
        peers: opts.peers,
        ticks: opts.ticks,
        drainTicks: opts.drain,
        topology: opts.topology,
        net: opts.net,
        blocksPerTick: opts.rate,
        tokensPerBlock: opts.tokens,
        conflicts: opts.conflicts,
        transfers: opts.transfers,
        ...(opts.byzantineKind === 'forger' ? { forgers: opts.byzantine } : { silent: opts.byzantine }),
        seed: opts.seed,
        partitions: opts.partition,
        ...(opts.churn === undefined ? {} : { churn: opts.churn }),
        params: { commitDelayTicks: opts.commitDelay, ...(opts.param as Partial<ConsensusParams>) },
        onProgress: (p) => {
          if (Date.now() - started > 1000) writeStderr(`sim: tick ${p.tick}/${p.total}, ${p.frames} frames`);
        },
      });
      if (opts.json === true) writeJson(report);
      else writeStdout(formatReport(report));
      if (report.invariants.violations > 0) throw new CliError(`invariant violated (seed ${opts.seed}): ${report.invariants.first[0] ?? ''}`, 2);
    });
}
