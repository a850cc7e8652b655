/**
 * `ecd sim` (one deterministic simulation), `ecd sim matrix` (the safety matrix: several
 * topologies, networks and faults, each over several seeds, with totals) and `ecd sim evidence`
 * (Minefield evidence over a simulation: false proofs, detection, the slashing vote). Register with
 * `registerSim(program)` (tools/program.ts's COMMANDS list).
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { initBlake3 } from '../../kernels/blake3.js';
import { CliError, parseIntInRange, writeJson, writeStderr, writeStdout } from '../cli-util.js';
import { percentiles, runSimulation } from './engine.js';
import type { ByzantineKind, Churn, Partition, SimOptions, SimReport, SimRun } from './engine.js';
import { DEFAULT_CONSENSUS_PARAMS, type ConsensusParams } from '../../consensus/params.js';
import { NET_PROFILES } from './network.js';
import type { NetProfileName } from './network.js';
import { TOPOLOGIES } from './topology.js';
import { CONVERGED_ACCURACY, type FormationReport } from './formation.js';
import type { TopologyName } from './topology.js';
import { parseMisbehave } from '../../daemon/answer-builder.js';
import { formatDetectionTable, formatEvidenceReport, MAX_BYTES_PER_RESPONDER_TOKEN, runDetectionTable, runEvidenceSimulation } from './evidence.js';
import type { EvidenceRunOptions, LiarSpec } from './evidence.js';

type ByzantineChoice = ByzantineKind | 'mixed';

interface SimCliOptions {
  readonly peers: number;
  readonly ticks: number;
  readonly drain: number;
  readonly topology: TopologyName;
  readonly net: NetProfileName;
  readonly rate: number;
  readonly tokens: number;
  readonly conflicts: number;
  readonly late: number;
  readonly transfers: number;
  readonly byzantine: number;
  readonly byzantineKind: ByzantineChoice;
  readonly seed: number;
  readonly param: Record<string, number>;
  readonly partition: Partition[];
  readonly churn?: Churn;
  readonly bootstrap?: number;
  readonly realCrypto?: boolean;
  readonly timing?: boolean;
  readonly json?: boolean;
}

/** `--param name=value`: any consensus parameter (consensus/params.ts), e.g. `--param quorum=5`. */
export function parseParam(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const m = /^([A-Za-z]+)=(.+)$/.exec(value);
  const defaults = DEFAULT_CONSENSUS_PARAMS as unknown as Record<string, unknown>;
  if (m === null) throw new InvalidArgumentError('expected name=value');
  const [, name, raw] = m as unknown as [string, string, string];
  if (!Object.hasOwn(defaults, name)) throw new InvalidArgumentError(`unknown consensus parameter ${name} (one of ${Object.keys(defaults).join(', ')})`);
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} is a non-negative integer`);
  return { ...previous, [name]: n };
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

function byzantineShares(share: number, kind: ByzantineChoice): Partial<Record<ByzantineKind, number>> {
  if (share === 0) return {};
  return kind === 'mixed' ? { equivocator: share / 2, silent: share / 2 } : { [kind]: share };
}

function pct(p: { p50: number | null; p95: number | null; p99: number | null }): string {
  return `p50 ${p.p50 ?? '-'} p95 ${p.p95 ?? '-'} p99 ${p.p99 ?? '-'}`;
}

export function formatReport(r: SimReport, wallMs?: number): string {
  const o = r.options;
  const f = r.families;
  const byz = Object.entries(o.byzantine).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return [
    `ecd sim: ${o.peers} peers, ${r.network === null ? `${o.topology} topology` : `emergent topology from ${r.network.bootstrap} bootstrap peer(s) each`}, ${o.net} network, q ${o.quorum}, seed ${o.seed}`,
    `  workload      ${o.ticks} ticks (+${o.drainTicks} drain), ${o.blocksPerTick} families/tick, ${o.tokensPerBlock} token(s)/block, ${Math.round(o.conflicts * 100)} % conflicts (${Math.round(o.late * 100)} % of them late), ${Math.round(o.transfers * 100)} % transfers, byzantine ${byz}`,
    `  blocks        submitted ${r.blocks.submitted} (${r.blocks.transfers} transfers); honest ${r.blocks.honest}, committed by hosts and entry ${r.blocks.honestCommitted}; at entry ${r.blocks.committedAtEntry}, anywhere ${r.blocks.committedAnywhere}; learned commits ${r.learned}`,
    `  latency       hosts ${pct(r.latency.hosts)}; entry ${pct(r.latency.entry)} ticks`,
    `  messages      ${r.messages.frames} frames, ${r.messages.items} items, ${r.messages.bytes} bytes; ${r.messages.itemsPerCommit ?? '-'} items per commit`,
    `  per commit    ${Object.entries(r.messages.itemsPerCommitByCause).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `  conflicts     ${f.conflicted} families (${f.late} late): highest won ${f.highestWon}, lower won ${f.lowerWon}, stalled ${f.stalled}, two ways ${f.twoWay}`,
    `  hosts         ${r.hostCoverage === null ? '-' : Math.round(r.hostCoverage * 1000) / 10} % of the peers hosting a committed block's token hold it`,
    `  faults        ${o.partitions.length} partition(s), churn ${o.churn === null ? 'off' : `${o.churn.rate}/tick, ~${o.churn.downTicks} ticks down`}: ${r.faults.crashes} crashes, ${r.faults.partitionDrops} cut by partitions, ${r.faults.downDrops} lost at down peers`,
    `  invariants    ${r.invariants.violations === 0 ? 'held' : `${r.invariants.violations} violations: ${r.invariants.first.join('; ')}`}`,
    ...(r.sync.sessions === 0 ? [] : [`  sync          ${r.sync.sessions} sessions (restarts, formed joiners), ${r.sync.learned} mappings learned, ticks to finish ${pct(r.sync.lagTicks)}`]),
    ...(r.network === null ? [] : formatNetwork(r.network)),
    ...(wallMs === undefined ? [] : [`  speed         ${wallMs} ms wall, ${Math.round((o.peers * (o.ticks + o.drainTicks)) / Math.max(wallMs / 1000, 1e-3))} peer-ticks/s`]),
  ].join('\n');
}

function formatNetwork(n: FormationReport): string[] {
  const lm = n.messages;
  return [
    `  network       neighbourhood accuracy ${n.accuracy ?? '-'} at the end; ≥ ${CONVERGED_ACCURACY} from tick ${n.convergedTick ?? 'never'}; Connected per peer mean ${n.degree.mean}, max ${n.degree.max}; nostore peers Connected at honest ones ${n.nostoreConnected}`,
    `  accuracy      ${n.accuracyByTick.map(([t, a]) => `${t}:${a}`).join(' ')}`,
    `  lifecycle     ${lm.frames} frames, ${lm.bytes} bytes (${Object.entries(lm.byType).map(([k, v]) => `${k} ${v}`).join(', ')})`,
  ];
}

// ---------------------------------------------------------------------------------------------
// The matrix.

interface MatrixRun {
  readonly name: string;
  readonly options: Omit<SimOptions, 'seed' | 'params'>;
}

const MATRIX_COMMON = { tokensPerBlock: 1, conflicts: 0.3, late: 0.2, transfers: 0.5, drainTicks: 60 } as const;

/**
 * The safety matrix: every run has transfers, 30 % conflict families and late contenders. The
 * full form runs more seeds and longer workloads; `--quick` keeps ≥ 1 000 conflict families.
 */
export function matrixRuns(quick: boolean): { runs: MatrixRun[]; seeds: number[] } {
  const ticks = quick ? 250 : 500;
  const rate = 3;
  const small = quick ? 200 : 300;
  const runs: MatrixRun[] = [
    { name: 'dense', options: { ...MATRIX_COMMON, peers: quick ? 300 : 2000, topology: 'dense', net: 'same-dc', ticks, blocksPerTick: rate } },
    { name: 'ring', options: { ...MATRIX_COMMON, peers: 192, topology: 'ring', net: 'cross-dc', ticks, blocksPerTick: rate } },
    { name: 'churn', options: { ...MATRIX_COMMON, peers: small, topology: 'dense', net: 'same-dc', ticks, blocksPerTick: rate, churn: { rate: 0.002, downTicks: 20 } } },
    { name: 'lossy', options: { ...MATRIX_COMMON, peers: small, topology: 'dense', net: 'lossy', ticks, blocksPerTick: rate } },
    { name: 'byzantine', options: { ...MATRIX_COMMON, peers: small, topology: 'dense', net: 'same-dc', ticks, blocksPerTick: rate, byzantine: { equivocator: 0.05, silent: 0.05 } } },
    // The network forms while the workload runs: every peer starts from two bootstrap peers.
    { name: 'emergent', options: { ...MATRIX_COMMON, peers: small, topology: 'dense', net: 'same-dc', ticks, blocksPerTick: rate, bootstrap: 2, byzantine: { nostore: 0.1 } } },
  ];
  return { runs, seeds: quick ? [1] : [1, 2, 3, 4, 5] };
}

export interface MatrixLine {
  readonly run: string;
  readonly seed: number;
  readonly peers: number;
  readonly families: number;
  readonly two_way: number;
  readonly stalled: number;
  readonly lower_won: number;
  readonly honest_blocks: number;
  readonly honest_committed: number;
  readonly entry_committed: number;
  readonly latency_hosts: { p50: number | null; p95: number | null };
  readonly latency_entry: { p50: number | null; p95: number | null };
  readonly items_per_commit: number | null;
  readonly violations: number;
}

export interface MatrixReport {
  readonly quorum: number;
  readonly families: number;
  readonly two_way: number;
  readonly stalled: number;
  readonly honest_blocks: number;
  readonly honest_committed: number;
  readonly entry_committed: number;
  readonly latency_p50: number | null;
  readonly latency_p95: number | null;
  readonly items_per_commit: number | null;
  readonly violations: number;
  readonly runs: MatrixLine[];
}

export function runMatrix(quick: boolean, params: Partial<ConsensusParams>, progress?: (line: MatrixLine, wallMs: number) => void, only?: readonly string[], onlySeeds?: readonly number[]): MatrixReport {
  const all = matrixRuns(quick);
  const seeds = onlySeeds ?? all.seeds;
  const runs = only === undefined ? all.runs : all.runs.filter((r) => only.includes(r.name));
  const lines: MatrixLine[] = [];
  const entry: number[] = [];
  let items = 0;
  let commits = 0;
  let quorum = 0;
  for (const run of runs) {
    for (const seed of seeds) {
      const r: SimRun = runSimulation({ ...run.options, seed, params, stopOnViolation: false });
      const rep = r.report;
      quorum = rep.options.quorum;
      entry.push(...r.latencies.entry);
      items += rep.messages.items;
      commits += rep.blocks.committedAnywhere;
      const line: MatrixLine = {
        run: run.name,
        seed,
        peers: rep.options.peers,
        families: rep.families.conflicted,
        two_way: rep.families.twoWay,
        stalled: rep.families.stalled,
        lower_won: rep.families.lowerWon,
        honest_blocks: rep.blocks.honest,
        honest_committed: rep.blocks.honestCommitted,
        entry_committed: rep.blocks.honestAtEntry,
        latency_hosts: { p50: rep.latency.hosts.p50, p95: rep.latency.hosts.p95 },
        latency_entry: { p50: rep.latency.entry.p50, p95: rep.latency.entry.p95 },
        items_per_commit: rep.messages.itemsPerCommit,
        violations: rep.invariants.violations,
      };
      lines.push(line);
      progress?.(line, r.wallMs);
    }
  }
  const sum = (k: 'families' | 'two_way' | 'stalled' | 'honest_blocks' | 'honest_committed' | 'entry_committed' | 'violations'): number => lines.reduce((s, l) => s + l[k], 0);
  const lat = percentiles(entry);
  return {
    quorum,
    families: sum('families'),
    two_way: sum('two_way'),
    stalled: sum('stalled'),
    honest_blocks: sum('honest_blocks'),
    honest_committed: sum('honest_committed'),
    entry_committed: sum('entry_committed'),
    latency_p50: lat.p50,
    latency_p95: lat.p95,
    items_per_commit: commits === 0 ? null : Math.round((items / commits) * 10) / 10,
    violations: sum('violations'),
    runs: lines,
  };
}

function parseRuns(value: string): string[] {
  const names = value.split(',').filter((n) => n !== '');
  const known = matrixRuns(true).runs.map((r) => r.name);
  const bad = names.find((n) => !known.includes(n));
  if (bad !== undefined || names.length === 0) throw new InvalidArgumentError(`expected run names from ${known.join(', ')}`);
  return names;
}

function parseSeeds(value: string): number[] {
  const seeds = value.split(',').map(Number);
  if (seeds.length === 0 || seeds.some((x) => !Number.isSafeInteger(x) || x < 0)) throw new InvalidArgumentError('expected non-negative integers, comma-separated');
  return seeds;
}

function formatLine(l: MatrixLine): string {
  return `${l.run.padEnd(10)} seed ${String(l.seed).padEnd(3)} ${String(l.peers).padStart(5)} peers  conflict families ${String(l.families).padStart(5)}  two-way ${l.two_way}  stalled ${String(l.stalled).padStart(4)}  lower won ${String(l.lower_won).padStart(4)}  honest ${l.honest_committed}/${l.honest_blocks} (entry ${l.entry_committed})  latency hosts ${l.latency_hosts.p50}/${l.latency_hosts.p95} entry ${l.latency_entry.p50}/${l.latency_entry.p95}  items/commit ${l.items_per_commit}${l.violations > 0 ? `  VIOLATIONS ${l.violations}` : ''}`;
}

function formatTotals(m: MatrixReport): string {
  const share = m.honest_blocks === 0 ? '-' : `${Math.round((m.honest_committed / m.honest_blocks) * 100_000) / 1000} %`;
  const stalled = m.families === 0 ? '-' : `${Math.round((m.stalled / m.families) * 1000) / 10} %`;
  return `total (q ${m.quorum}): ${m.families} conflict families, ${m.two_way} two-way, ${m.stalled} stalled (${stalled}); honest blocks ${m.honest_committed}/${m.honest_blocks} committed by hosts and entry (${share}); entry latency p50 ${m.latency_p50} p95 ${m.latency_p95} ticks; ${m.items_per_commit} items per commit; ${m.violations} invariant violations`;
}

// ---------------------------------------------------------------------------------------------

export function registerSim(program: Command): void {
  const sim = program
    .command('sim')
    .description('deterministic simulation of N peers in one process (every run reproducible from its seed)')
    .option('--peers <n>', 'number of peers', parseIntInRange(2, 1_000_000), 200)
    .option('--ticks <n>', 'ticks with workload', parseIntInRange(1, 1_000_000), 100)
    .option('--drain <n>', 'extra ticks without workload at the end', parseIntInRange(0, 1_000_000), 40)
    .addOption(new Option('--topology <name>', 'peer graph').choices(TOPOLOGIES).default('dense'))
    .addOption(new Option('--net <profile>', 'network profile').choices(NET_PROFILES).default('same-dc'))
    .option('--rate <n>', 'block families submitted per tick', parseRate, 1)
    .option('--tokens <n>', 'tokens per block', parseIntInRange(1, 6), 1)
    .option('--conflicts <f>', 'share of families that are double spends', parseFraction, 0)
    .option('--late <f>', 'share of double spends whose second contender arrives after the mempool lifetime', parseFraction, 0)
    .option('--transfers <f>', 'share of families that transfer a token whose last block committed at its entry peer', parseFraction, 0)
    .option('--byzantine <f>', 'share of byzantine peers', parseFraction, 0)
    .addOption(new Option('--byzantine-kind <kind>', 'what byzantine peers do (mixed: half equivocators, half silent; nostore: honest but without the stored data, emergent topology only)').choices(['silent', 'equivocator', 'forger', 'nostore', 'mixed']).default('mixed'))
    .option('--param <name=value>', 'override a consensus parameter (consensus/params.ts; repeatable)', parseParam, {})
    .option('--partition <start:end:fraction>', 'cut a seeded fraction of peers off during ticks [start, end) (repeatable)', parsePartition, [])
    .option('--churn <rate[:down]>', 'each peer crashes with this probability per tick, down ~down ticks (default 20), restarts with its store', parseChurn)
    .option('--bootstrap <n>', 'emergent topology: each peer starts knowing n random peers (1–3) and earns its Connected set (replaces --topology)', parseIntInRange(1, 3))
    .option('--seed <n>', 'random seed', parseIntInRange(0, Number.MAX_SAFE_INTEGER), 1)
    .option('--real-crypto', 'real Ed25519 and BLAKE3 (@noble) instead of the deterministic stand-ins')
    .option('--timing', 'include wall-clock figures in the output (they differ between runs)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (opts: SimCliOptions) => {
      if (opts.topology === 'full' && opts.peers > 2000) throw new CliError('the full topology holds N² links; use --peers ≤ 2000 or another topology');
      await initBlake3();
      const started = Date.now();
      const run = runSimulation({
        peers: opts.peers,
        ticks: opts.ticks,
        drainTicks: opts.drain,
        topology: opts.topology,
        net: opts.net,
        blocksPerTick: opts.rate,
        tokensPerBlock: opts.tokens,
        conflicts: opts.conflicts,
        late: opts.late,
        transfers: opts.transfers,
        byzantine: byzantineShares(opts.byzantine, opts.byzantineKind),
        seed: opts.seed,
        partitions: opts.partition,
        ...(opts.churn === undefined ? {} : { churn: opts.churn }),
        ...(opts.bootstrap === undefined ? {} : { bootstrap: opts.bootstrap }),
        ...(opts.realCrypto === true ? { realCrypto: true } : {}),
        params: opts.param as Partial<ConsensusParams>,
        onProgress: (p) => {
          if (Date.now() - started > 1000) writeStderr(`sim: tick ${p.tick}/${p.total}, ${p.frames} frames`);
        },
      });
      const timing = opts.timing === true;
      if (opts.json === true) writeJson(timing ? { ...run.report, speed: speedOf(run) } : run.report);
      else writeStdout(formatReport(run.report, timing ? run.wallMs : undefined));
      if (!timing) writeStderr(`sim: ${run.wallMs} ms wall, ${speedOf(run).peerTicksPerSecond} peer-ticks/s`);
      if (run.report.invariants.violations > 0) throw new CliError(`invariant violated (seed ${opts.seed}): ${run.report.invariants.first[0] ?? ''}`, 2);
    });
  sim
    .command('matrix')
    .description('the safety matrix: dense, ring, churn, lossy, byzantine and emergent-topology runs with transfers, conflicts and late contenders, over several seeds; exits 2 on any two-way family or invariant violation')
    .option('--quick', 'one seed and smaller networks (≥ 1 000 conflict families; for CI)')
    .option('--param <name=value>', 'override a consensus parameter (repeatable), e.g. --param quorum=5', parseParam, {})
    .option('--runs <names>', 'only these runs, comma-separated (dense, ring, churn, lossy, byzantine, emergent)', parseRuns)
    .option('--seeds <list>', 'these seeds instead of the form\'s own, comma-separated (to split the matrix over processes)', parseSeeds)
    .option('--json', 'print one JSON object on stdout')
    .action(async (opts: { quick?: boolean; param: Record<string, number>; runs?: string[]; seeds?: number[]; json?: boolean }, cmd: Command) => {
      await initBlake3();
      // `sim` has a --param of its own: commander gives it what follows `matrix` unless both are read.
      const globals = cmd.optsWithGlobals<{ param?: Record<string, number>; json?: boolean }>();
      const params = { ...globals.param, ...opts.param } as Partial<ConsensusParams>;
      const json = opts.json === true || globals.json === true;
      const m = runMatrix(opts.quick === true, params, (line, wallMs) => {
        if (json) writeStderr(`matrix: ${line.run} seed ${line.seed} done in ${wallMs} ms`);
        else writeStdout(formatLine(line));
      }, opts.runs, opts.seeds);
      if (json) writeJson(m);
      else writeStdout(formatTotals(m));
      if (m.two_way > 0 || m.violations > 0) throw new CliError(`the matrix found ${m.two_way} two-way families and ${m.violations} invariant violations`, 2);
    });
  registerEvidence(sim);
}

// ---------------------------------------------------------------------------------------------
// Evidence.

/** `kind:P,kind:P,…` (kinds fork, rollback, double-map; P in (0, 1], default 1): one liar each. */
function parseLiars(value: string): LiarSpec[] {
  return value.split(',').map((item) => {
    const m = parseMisbehave(item.trim());
    if (!m.ok) throw new InvalidArgumentError(m.reason);
    const kind = m.value.kind;
    if (kind === 'nostore') throw new InvalidArgumentError('liars are fork, rollback or double-map (nostore peers are `ecd sim --bootstrap N --byzantine-kind nostore`)');
    return { kind, p: m.value.p };
  });
}

interface EvidenceCliOptions {
  readonly seed: number;
  readonly peers: number;
  readonly ticks: number;
  readonly drain: number;
  readonly topology: TopologyName;
  readonly net: NetProfileName;
  readonly rate: number;
  readonly conflicts: number;
  readonly transfers: number;
  readonly churn?: Churn;
  readonly owners: number;
  readonly queries: number;
  readonly liars: LiarSpec[];
  readonly askers: number;
  readonly pool: number;
  readonly table?: boolean;
  readonly seeds: number;
  readonly liarsPerKind: number;
  readonly json?: boolean;
}

/**
 * The subcommand's options: `sim` defines several of the same names and commander gives it those
 * that follow `evidence`, so a value the parent got from the command line wins over our default.
 */
function evidenceOptions(cmd: Command): EvidenceCliOptions {
  const out: Record<string, unknown> = { ...cmd.opts() };
  const parent = cmd.parent;
  for (const key of Object.keys(parent?.opts() ?? {})) {
    if (cmd.getOptionValueSource(key) !== 'cli' && parent?.getOptionValueSource(key) === 'cli') out[key] = parent.getOptionValue(key);
  }
  return out as unknown as EvidenceCliOptions;
}

function evidenceAction(opts: EvidenceCliOptions): void {
  if (opts.topology === 'full' && opts.peers > 2000) throw new CliError('the full topology holds N² links; use --peers ≤ 2000 or another topology');
  const started = Date.now();
  const run: Omit<EvidenceRunOptions, 'seed'> = {
    peers: opts.peers,
    ticks: opts.ticks,
    drainTicks: opts.drain,
    topology: opts.topology,
    net: opts.net,
    blocksPerTick: opts.rate,
    conflicts: opts.conflicts,
    transfers: opts.transfers,
    ...(opts.churn === undefined ? {} : { churn: opts.churn }),
  };
  const workload = { owners: opts.owners, queries: opts.queries, poolEveryTicks: opts.pool };
  if (opts.table === true) {
    const seeds = Array.from({ length: opts.seeds }, (_, k) => opts.seed + k);
    const t = runDetectionTable(run, workload, seeds, opts.liarsPerKind, (seed) => writeStderr(`evidence table: seed ${seed} done, ${Math.round((Date.now() - started) / 1000)} s`));
    if (opts.json === true) writeJson(t);
    else writeStdout(formatDetectionTable(t));
    if (t.falsePositives > 0 || t.votesAgainstHonest > 0 || t.invalidProofs > 0) throw new CliError(`honest peers were named: ${t.falsePositives} fraud proofs, ${t.votesAgainstHonest} slashing votes, ${t.invalidProofs} invalid proofs`, 2);
    return;
  }
  const r = runEvidenceSimulation({
    ...run,
    ...workload,
    seed: opts.seed,
    liars: opts.liars,
    askers: opts.askers,
    onProgress: (p) => {
      if (Date.now() - started > 1000) writeStderr(`evidence: tick ${p.tick}/${p.total}, ${p.answers} answers`);
    },
  });
  if (opts.json === true) writeJson(r);
  else writeStdout(formatEvidenceReport(r));
  writeStderr(`evidence: ${Date.now() - started} ms wall`);
  const bytes = r.evidenceBytes.perOwnerResponderToken.max;
  if (r.falsePositives.proofs > 0 || r.votesAgainstHonest > 0 || r.invalidProofs > 0 || r.consensus.violations > 0) {
    throw new CliError(`seed ${opts.seed}: ${r.falsePositives.proofs} fraud proofs and ${r.votesAgainstHonest} slashing votes against honest peers, ${r.invalidProofs} invalid proofs, ${r.consensus.violations} invariant violations${r.falsePositives.first.length > 0 ? `: ${r.falsePositives.first[0]}` : ''}`, 2);
  }
  if (bytes > MAX_BYTES_PER_RESPONDER_TOKEN) throw new CliError(`seed ${opts.seed}: an owner kept ${bytes} bytes about one token from one responder (limit ${MAX_BYTES_PER_RESPONDER_TOKEN})`, 2);
}

function registerEvidence(sim: Command): void {
  sim
    .command('evidence')
    .description('Minefield evidence (PROTOCOL §9) over a simulation: owners query tokens and keep signed answers; reports fraud proofs against honest peers (exit 2 if any), how fast liars are caught alone and with pooled evidence, the 67 % slashing vote, and the bytes the evidence books keep')
    .option('--seed <n>', 'random seed (with --table: the first of --seeds seeds)', parseIntInRange(0, Number.MAX_SAFE_INTEGER), 1)
    .option('--peers <n>', 'number of peers', parseIntInRange(2, 1_000_000), 40)
    .option('--ticks <n>', 'ticks with workload', parseIntInRange(1, 1_000_000), 300)
    .option('--drain <n>', 'extra ticks without new blocks at the end (owners keep querying)', parseIntInRange(0, 1_000_000), 40)
    .addOption(new Option('--topology <name>', 'peer graph').choices(TOPOLOGIES).default('dense'))
    .addOption(new Option('--net <profile>', 'network profile').choices(NET_PROFILES).default('same-dc'))
    .option('--rate <n>', 'block families submitted per tick', parseRate, 1)
    .option('--conflicts <f>', 'share of families that are double spends', parseFraction, 0.1)
    .option('--transfers <f>', 'share of families that transfer a token (so mappings move and rollback lies are possible)', parseFraction, 0.5)
    .option('--churn <rate[:down]>', 'each peer crashes with this probability per tick, down ~down ticks (default 20), restarts with its store', parseChurn)
    .option('--owners <n>', 'owners: askers with their own address and evidence book', parseIntInRange(1, 1000), 8)
    .option('--queries <n>', 'queries per tick over all owners (each asks the token\'s window of live peers)', parseIntInRange(0, 100_000), 10)
    .option('--liars <list>', 'liars, one per kind:P, comma-separated: fork, rollback, double-map; P in (0, 1], default 1', parseLiars, [])
    .option('--askers <f>', 'share of owners each liar lies to', parseFraction, 1)
    .option('--pool <ticks>', 'owners compare their evidence every this many ticks (0: never)', parseIntInRange(0, 1_000_000), 20)
    .option('--table', 'the detection table: P in 0.05, 0.2, 0.5, 1 × askers 0.25, 1 × every kind, over --seeds seeds')
    .option('--seeds <n>', 'with --table: seeds per cell', parseIntInRange(1, 1000), 3)
    .option('--liars-per-kind <n>', 'with --table: liars of each kind per run', parseIntInRange(1, 100), 2)
    .option('--json', 'print one JSON object on stdout')
    .action(async (_opts: unknown, cmd: Command) => {
      await initBlake3();
      evidenceAction(evidenceOptions(cmd));
    });
}

function speedOf(run: SimRun): { wallMs: number; peerTicksPerSecond: number } {
  const o = run.report.options;
  return { wallMs: run.wallMs, peerTicksPerSecond: Math.round((o.peers * (o.ticks + o.drainTicks)) / Math.max(run.wallMs / 1000, 1e-3)) };
}
