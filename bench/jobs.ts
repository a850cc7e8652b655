/**
 * `ecd bench jobs`: what our compute-job path costs per job against running the same container
 * with `podman run`, in one run on the same engine.
 *
 *   setup    two daemons on loopback (tools/testnet.ts): n1 a client, n2 a provider on the engine;
 *            n1 waits for n2's offer;
 *   check    for each check argv, stdout, stderr and exit code of a job through our path equal
 *            those of `podman run` (STYLE §16: outputs agree before anything is timed);
 *   latency  a trivial job (`echo x`) one at a time, `runs` times each way, interleaved in every
 *            order after two warm-up rounds:
 *              ours         POST /v1/jobs at n1 (pinned to n2), then GET /v1/jobs/:id?waitMs until
 *                           final with its output verified at n1; the output is then compared;
 *              podman run   `podman run --rm --runtime runc --network none` with the ulimits our
 *                           containers get (the engine's defaults exceed the hard limits of a
 *                           sandboxed host), as a child process;
 *              host alone   daemon/container-host.ts from this process: create+start, wait, stats,
 *                           logs, remove, each timed — the container part of ours without the
 *                           daemons;
 *            each run starts on a quiet machine (see `settle`); reported as p50/p95 and
 *            ours / podman run. Ours is also cut at the engine's own timestamps (the receipt's
 *            start and end): submit → container started, ran, exit → final and verified at n1;
 *   load     `jobs` jobs with `concurrency` in flight from n1 to n2, each asking for the provider's
 *            offered CPUs / concurrency, wall time until all are final and verified → jobs/s;
 *            the same count and concurrency of `podman run` → jobs/s.
 *
 * Bounded: every request and child process has a deadline, the whole run `maxMs`; the daemons and
 * the working directory are removed at the end, whatever happened.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineContainerHost, JOB_LIMITS, type HostInfo } from '../daemon/container-host.js';
import { silentLogger } from '../daemon/log.js';
import { ApiClient } from '../tools/api-client.js';
import { Testnet } from '../tools/testnet.js';
import { PROFILES } from '../wire/profiles.js';

export interface BenchJobsOptions {
  /** Docker Engine API endpoint the provider runs jobs on (unix:///… or tcp://…). */
  readonly containerHost: string;
  /** Image id (`sha256:` + 64 hex) present on the engine. */
  readonly image: string;
  /** The podman CLI (default `podman`); it must use the engine's storage. */
  readonly podman?: string;
  /** Timed runs of each kind for latency (default 20). */
  readonly runs?: number;
  /** Jobs for the throughput phase (default 40). */
  readonly jobs?: number;
  /** Jobs in flight in the throughput phase (default 4). */
  readonly concurrency?: number;
  /** Bound on the whole run (default 15 min). */
  readonly maxMs?: number;
  readonly log?: (line: string) => void;
}

export interface Quantiles {
  readonly p50: number;
  readonly p95: number;
}

export interface BenchJobsResult {
  readonly engine: { readonly endpoint: string; readonly name: string; readonly version: string; readonly ncpu: number };
  readonly image: string;
  readonly provider_cpus: number;
  readonly checked: { readonly argv: readonly string[]; readonly stdout_bytes: number; readonly stderr_bytes: number; readonly exit_code: number }[];
  readonly latency: {
    readonly argv: readonly string[];
    readonly runs: number;
    readonly ours_ms: Quantiles;
    readonly podman_run_ms: Quantiles;
    readonly host_alone_ms: Quantiles;
    readonly ratio: { readonly p50: number; readonly p95: number };
    readonly goal_ratio: number;
    readonly met: boolean;
    /** Ours, cut at the engine's timestamps (p50 of each segment). */
    readonly ours_segments_p50_ms: { readonly submit_answered: number; readonly submit_to_started: number; readonly ran: number; readonly exit_to_final: number };
    /** The host alone, per call (p50). */
    readonly host_phases_p50_ms: { readonly create_start: number; readonly wait: number; readonly exit_seen_after: number; readonly stats: number; readonly logs: number; readonly remove: number };
  };
  readonly throughput: {
    readonly jobs: number;
    readonly concurrency: number;
    readonly cpus_per_job: number;
    readonly ours: { readonly wall_s: number; readonly jobs_per_s: number; readonly failed: number };
    readonly podman_run: { readonly wall_s: number; readonly jobs_per_s: number; readonly failed: number };
    readonly ratio: number;
  };
}

const LATENCY_ARGV = ['echo', 'x'] as const;
const CHECK_ARGVS: readonly (readonly string[])[] = [
  LATENCY_ARGV,
  ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i ünï"; i=$((i+1)); done; printf "err\\0\\377" >&2; exit 3'],
];
const JOB_MEMORY = 64 * 1024 * 1024;
const JOB_TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 1 << 20;
const WARMUP_ROUNDS = 2;
const RUN_DEADLINE_MS = 60_000;
const GOAL_RATIO = 1.2;

interface Output {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly exitCode: number;
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number);
};
const quantiles = (xs: readonly number[]): Quantiles => ({ p50: round1(quantile(xs, 0.5)), p95: round1(quantile(xs, 0.95)) });
const round1 = (x: number): number => Math.round(x * 10) / 10;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Busy and total CPU ticks of the machine (/proc/stat), or null where there is none. */
async function cpuTicks(): Promise<{ busy: number; total: number } | null> {
  try {
    const f = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return null;
  }
}

/**
 * Waits until the machine is quiet (a 100 ms window under 15 % busy), at most 3 s: a run must not
 * pay for the previous run's leftovers (Podman's `container cleanup` process outlives the API
 * calls that started it).
 */
async function settle(): Promise<void> {
  const end = performance.now() + 3_000;
  let a = await cpuTicks();
  while (a !== null && performance.now() < end) {
    await sleep(100);
    const b = await cpuTicks();
    if (b === null || b.total === a.total || (b.busy - a.busy) / (b.total - a.total) < 0.15) return;
    a = b;
  }
}

// ——— the alternative: podman run ———

function podmanArgs(image: string, argv: readonly string[]): string[] {
  const ulimits = [`nofile=${JOB_LIMITS.nofile}:${JOB_LIMITS.nofile}`, `nproc=${JOB_LIMITS.nproc}:${JOB_LIMITS.nproc}`];
  return ['run', '--rm', '--runtime', 'runc', '--network', 'none', ...ulimits.flatMap((u) => ['--ulimit', u]), image, ...argv];
}

/** One `podman run`; a non-zero exit of the job is an output, a failure of podman an error. */
function podmanRun(podman: string, image: string, argv: readonly string[]): Promise<Output> {
  return new Promise((resolve, reject) => {
    execFile(podman, podmanArgs(image, argv), { encoding: 'buffer', timeout: RUN_DEADLINE_MS, killSignal: 'SIGKILL', maxBuffer: 4 * MAX_OUTPUT }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      // podman's own failures exit 125–127 (and print to its stderr, which the job shares).
      if (code === null || code >= 125) reject(new Error(`podman run: ${err?.message ?? 'failed'}`));
      else resolve({ stdout, stderr, exitCode: code });
    });
  });
}

// ——— ours: through the client daemon's API ———

interface OursRun {
  readonly ms: number;
  readonly submitMs: number;
  readonly toStarted: number;
  readonly ran: number;
  readonly toFinal: number;
  readonly output: Output;
}

function jobBody(image: string, provider: string, argv: readonly string[], cpus: number): Record<string, unknown> {
  return { image, argv, provider, cpu: cpus, memory: JOB_MEMORY, timeoutMs: JOB_TIMEOUT_MS, maxOutput: MAX_OUTPUT };
}

/** Submits at n1 and follows the job until it is final with its output verified; then reads the output. */
async function oursRun(client: ApiClient, body: Record<string, unknown>): Promise<OursRun> {
  const wall0 = Date.now();
  const t0 = performance.now();
  const sub = await client.submitJob(body);
  const submitMs = performance.now() - t0;
  const deadline = t0 + RUN_DEADLINE_MS;
  let v = await client.job(sub.id, 10_000);
  while (!(v['final'] === true && v['output'] === 'verified')) {
    const state = String(v['state']);
    if (state === 'refused' || state === 'failed') throw new Error(`job ${sub.id.slice(0, 16)} ${state}: ${JSON.stringify(v['refused'] ?? '')}`);
    if (performance.now() > deadline) throw new Error(`job ${sub.id.slice(0, 16)} not final within ${RUN_DEADLINE_MS} ms (${state})`);
    v = await client.job(sub.id, Math.min(10_000, Math.max(1, Math.ceil(deadline - performance.now()))));
  }
  const ms = performance.now() - t0;
  const wall1 = wall0 + ms;
  const receipt = v['receipt'] as { start: number; end: number };
  const logs = await client.jobLogs(sub.id);
  if (!logs.verified || logs.stdout === null || logs.stderr === null) throw new Error(`job ${sub.id.slice(0, 16)}: output not verified`);
  const output = { stdout: Buffer.from(logs.stdout), stderr: Buffer.from(logs.stderr), exitCode: Number(v['exitCode']) };
  return { ms, submitMs, toStarted: receipt.start - wall0, ran: receipt.end - receipt.start, toFinal: wall1 - receipt.end, output };
}

// ——— the host alone ———

interface HostRun {
  readonly ms: number;
  readonly createStart: number;
  readonly wait: number;
  readonly exitSeenAfter: number;
  readonly stats: number;
  readonly logs: number;
  readonly remove: number;
}

async function hostRun(host: EngineContainerHost, image: string, argv: readonly string[]): Promise<HostRun> {
  const spec = { jobId: randomBytes(32).toString('hex'), imageId: image, argv, env: {}, nanoCpus: 1e9, memoryBytes: JOB_MEMORY, timeoutMs: JOB_TIMEOUT_MS, maxOutputBytes: MAX_OUTPUT, network: false } as const;
  const t = [performance.now()];
  const { containerId } = await host.run(spec);
  t.push(performance.now());
  let exitSeenAfter = 0;
  try {
    const w = await host.wait(containerId, spec.timeoutMs);
    exitSeenAfter = Date.now() - w.finishedAt;
    t.push(performance.now());
    await host.stats(containerId);
    t.push(performance.now());
    const logs = await host.logs(containerId, 'both', spec.maxOutputBytes);
    if (w.exitCode !== 0 || logs.stdout.bytes.toString() !== 'x\n') throw new Error(`host alone: exit ${w.exitCode}, stdout ${JSON.stringify(logs.stdout.bytes.toString().slice(0, 40))}`);
    t.push(performance.now());
  } finally {
    await host.remove(containerId);
  }
  t.push(performance.now());
  const d = (i: number): number => (t[i + 1] as number) - (t[i] as number);
  return { ms: (t[5] as number) - (t[0] as number), createStart: d(0), wait: d(1), exitSeenAfter, stats: d(2), logs: d(3), remove: d(4) };
}

// ——— phases ———

interface Ctx {
  readonly client: ApiClient;
  readonly provider: string;
  readonly host: EngineContainerHost;
  readonly opts: Required<Omit<BenchJobsOptions, 'log'>>;
  readonly log: (line: string) => void;
  readonly deadline: number;
}

function checkTime(c: Ctx, what: string): void {
  if (performance.now() > c.deadline) throw new Error(`bench jobs: over its ${c.opts.maxMs / 1000} s bound during ${what}`);
}

const sameOutput = (a: Output, b: Output): boolean => a.exitCode === b.exitCode && a.stdout.equals(b.stdout) && a.stderr.equals(b.stderr);

async function checkOutputs(c: Ctx): Promise<BenchJobsResult['checked']> {
  const checked: { argv: readonly string[]; stdout_bytes: number; stderr_bytes: number; exit_code: number }[] = [];
  for (const argv of CHECK_ARGVS) {
    checkTime(c, 'the output check');
    const ours = await oursRun(c.client, jobBody(c.opts.image, c.provider, argv, 1));
    const theirs = await podmanRun(c.opts.podman, c.opts.image, argv);
    if (!sameOutput(ours.output, theirs)) {
      throw new Error(
        `outputs differ for ${JSON.stringify(argv).slice(0, 60)}: ours exit ${ours.output.exitCode}, ${ours.output.stdout.length}+${ours.output.stderr.length} bytes; podman run exit ${theirs.exitCode}, ${theirs.stdout.length}+${theirs.stderr.length} bytes`,
      );
    }
    checked.push({ argv, stdout_bytes: theirs.stdout.length, stderr_bytes: theirs.stderr.length, exit_code: theirs.exitCode });
  }
  return checked;
}

async function measureLatency(c: Ctx): Promise<BenchJobsResult['latency']> {
  const ours: OursRun[] = [];
  const podman: number[] = [];
  const host: HostRun[] = [];
  const expected: Output = { stdout: Buffer.from('x\n'), stderr: Buffer.alloc(0), exitCode: 0 };
  const kinds = [
    async (keep: boolean): Promise<void> => {
      const r = await oursRun(c.client, jobBody(c.opts.image, c.provider, LATENCY_ARGV, 1));
      if (!sameOutput(r.output, expected)) throw new Error('ours: `echo x` gave another output');
      if (keep) ours.push(r);
    },
    async (keep: boolean): Promise<void> => {
      const t0 = performance.now();
      const r = await podmanRun(c.opts.podman, c.opts.image, LATENCY_ARGV);
      const ms = performance.now() - t0;
      if (!sameOutput(r, expected)) throw new Error('podman run: `echo x` gave another output');
      if (keep) podman.push(ms);
    },
    async (keep: boolean): Promise<void> => {
      const r = await hostRun(c.host, c.opts.image, LATENCY_ARGV);
      if (keep) host.push(r);
    },
  ];
  // Every order of the three in turn, so each kind follows each other kind equally often.
  const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] as const;
  const rounds = WARMUP_ROUNDS + c.opts.runs;
  for (let i = 0; i < rounds; i++) {
    checkTime(c, 'the latency runs');
    for (const k of orders[i % orders.length] as readonly number[]) {
      await settle();
      await (kinds[k] as (keep: boolean) => Promise<void>)(i >= WARMUP_ROUNDS);
    }
    if ((i + 1) % 5 === 0) c.log(`latency: ${i + 1}/${rounds} rounds`);
  }
  const o = quantiles(ours.map((r) => r.ms));
  const p = quantiles(podman);
  const med = <T>(xs: readonly T[], f: (x: T) => number): number => round1(quantile(xs.map(f), 0.5));
  const ratio = { p50: round3(o.p50 / p.p50), p95: round3(o.p95 / p.p95) };
  return {
    argv: LATENCY_ARGV,
    runs: c.opts.runs,
    ours_ms: o,
    podman_run_ms: p,
    host_alone_ms: quantiles(host.map((r) => r.ms)),
    ratio,
    goal_ratio: GOAL_RATIO,
    met: ratio.p50 <= GOAL_RATIO,
    ours_segments_p50_ms: { submit_answered: med(ours, (r) => r.submitMs), submit_to_started: med(ours, (r) => r.toStarted), ran: med(ours, (r) => r.ran), exit_to_final: med(ours, (r) => r.toFinal) },
    host_phases_p50_ms: {
      create_start: med(host, (r) => r.createStart),
      wait: med(host, (r) => r.wait),
      exit_seen_after: med(host, (r) => r.exitSeenAfter),
      stats: med(host, (r) => r.stats),
      logs: med(host, (r) => r.logs),
      remove: med(host, (r) => r.remove),
    },
  };
}

/** Runs `n` tasks with `c` in flight; wall time in s and failures. */
async function pool(n: number, c: number, task: () => Promise<void>, onError: (e: unknown) => void): Promise<{ wall_s: number; failed: number }> {
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      try {
        await task();
      } catch (e) {
        failed++;
        onError(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker));
  return { wall_s: (performance.now() - t0) / 1000, failed };
}

async function measureThroughput(c: Ctx, cpus: number): Promise<BenchJobsResult['throughput']> {
  const { jobs, concurrency } = c.opts;
  const cpusPerJob = Math.max(JOB_LIMITS.minNanoCpus / 1e9, Math.min(1, Math.floor((cpus / concurrency) * 100) / 100));
  const errors: string[] = [];
  const onError = (e: unknown): void => void errors.push((e as Error).message);
  checkTime(c, 'the throughput phase');
  c.log(`throughput: ${jobs} jobs through n2, ${concurrency} in flight, ${cpusPerJob} CPU each`);
  const body = jobBody(c.opts.image, c.provider, LATENCY_ARGV, cpusPerJob);
  await settle();
  const ours = await pool(jobs, concurrency, async () => void (await oursRun(c.client, body)), onError);
  checkTime(c, 'the throughput phase');
  c.log(`throughput: ${jobs} podman runs, ${concurrency} at a time`);
  await settle();
  const theirs = await pool(jobs, concurrency, async () => void (await podmanRun(c.opts.podman, c.opts.image, LATENCY_ARGV)), onError);
  if (errors.length > 0) c.log(`throughput: ${errors.length} failed, first: ${errors[0]}`);
  const rate = (r: { wall_s: number; failed: number }): number => round3((jobs - r.failed) / r.wall_s);
  return {
    jobs,
    concurrency,
    cpus_per_job: cpusPerJob,
    ours: { wall_s: round3(ours.wall_s), jobs_per_s: rate(ours), failed: ours.failed },
    podman_run: { wall_s: round3(theirs.wall_s), jobs_per_s: rate(theirs), failed: theirs.failed },
    ratio: round3(rate(ours) / rate(theirs)),
  };
}

/** n1 hears n2's offer; answers the CPUs it offers. */
async function waitForOffer(client: ApiClient, provider: string, image: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const o = (await client.jobOffers()).offers.find((x) => x['provider'] === provider);
    if (o !== undefined) {
      if (!(o['images'] as string[]).includes(image)) throw new Error(`n2 does not offer image ${image}`);
      return Number(o['cpu']);
    }
    if (performance.now() > deadline) throw new Error(`n1 heard no offer from n2 within ${timeoutMs} ms`);
    await sleep(200);
  }
}

export async function benchJobs(options: BenchJobsOptions): Promise<BenchJobsResult> {
  const log = options.log ?? ((): void => undefined);
  const opts: Ctx['opts'] = {
    containerHost: options.containerHost,
    image: options.image,
    podman: options.podman ?? 'podman',
    runs: options.runs ?? 20,
    jobs: options.jobs ?? 40,
    concurrency: options.concurrency ?? 4,
    maxMs: options.maxMs ?? 15 * 60_000,
  };
  const deadline = performance.now() + opts.maxMs;
  const host = new EngineContainerHost({ log: silentLogger() }, { endpoint: opts.containerHost, daemonId: `ecd-bench-jobs-${process.pid}` });
  const dir = await mkdtemp(join(tmpdir(), 'ecd-bench-jobs-'));
  let net: Testnet | undefined;
  try {
    const info: HostInfo = await host.info();
    if ((await host.imageId(opts.image)) !== opts.image) throw new Error(`image ${opts.image} is not on the engine at ${opts.containerHost}`);
    net = await Testnet.create({
      nodes: 2,
      dir,
      profile: PROFILES.devnet,
      store: 'lmdb',
      logLevel: 'warn',
      nodeArgs: (i) => (i === 1 ? ['--container-host', opts.containerHost, '--job-image', opts.image] : []),
      onProgress: log,
    });
    log('starting n1 (client) and n2 (provider)');
    await net.start(60_000);
    await net.waitConnected(30_000);
    const n1 = net.nodes[0] as Testnet['nodes'][number];
    const provider = (net.nodes[1] as Testnet['nodes'][number]).publicKey;
    const client = new ApiClient({ url: n1.apiUrl, token: (await readFile(n1.tokenFile, 'utf8')).trim() }, { timeoutMs: 15_000 });
    const cpus = await waitForOffer(client, provider, opts.image, 30_000);
    const ctx: Ctx = { client, provider, host, opts, log, deadline };
    log('checking outputs against podman run');
    const checked = await checkOutputs(ctx);
    log(`latency: ${opts.runs} timed rounds of ours, podman run and the host alone (after ${WARMUP_ROUNDS} warm-up rounds)`);
    const latency = await measureLatency(ctx);
    const throughput = await measureThroughput(ctx, cpus);
    return {
      engine: { endpoint: opts.containerHost, name: info.engine, version: info.engineVersion, ncpu: info.ncpu },
      image: opts.image,
      provider_cpus: cpus,
      checked,
      latency,
      throughput,
    };
  } finally {
    for (const j of await host.listJobs().catch(() => [])) await host.remove(j.containerId).catch(() => false);
    host.close();
    if (net !== undefined) await net.stop(15_000);
    await rm(dir, { recursive: true, force: true });
  }
}

export function jobsTable(r: BenchJobsResult): string {
  const l = r.latency;
  const t = r.throughput;
  const row = (name: string, q: Quantiles): string => `    ${name.padEnd(62)}${String(q.p50).padStart(8)}${String(q.p95).padStart(8)}`;
  const argv = (a: readonly string[]): string => {
    const text = a.map((x) => (/^[\w./=-]+$/.test(x) ? x : `'${x}'`)).join(' ');
    return text.length > 24 ? `${text.slice(0, 23)}…` : text;
  };
  const s = l.ours_segments_p50_ms;
  const h = l.host_phases_p50_ms;
  return [
    `jobs: client n1 → provider n2 (${r.provider_cpus} CPUs offered) on ${r.engine.name} ${r.engine.version}, ${r.engine.ncpu} CPUs, image ${r.image.slice(0, 19)}…`,
    `  outputs checked: ${r.checked.map((c) => `${argv(c.argv)} (${c.stdout_bytes} + ${c.stderr_bytes} bytes, exit ${c.exit_code})`).join('; ')}: equal to podman run's`,
    `  dispatch latency of \`${argv(l.argv)}\`, ${l.runs} runs each, interleaved, one at a time`,
    `    ${''.padEnd(62)}${'p50 ms'.padStart(8)}${'p95 ms'.padStart(8)}`,
    row('ours: POST /v1/jobs at n1 → n2 → container → verified at n1', l.ours_ms),
    row('podman run --rm --runtime runc --network none', l.podman_run_ms),
    row('container host alone (create+start, wait, stats, logs, rm)', l.host_alone_ms),
    `    ${'ours / podman run'.padEnd(62)}${`${l.ratio.p50}×`.padStart(8)}${`${l.ratio.p95}×`.padStart(8)}   goal ≤ ${l.goal_ratio}× at p50: ${l.met ? 'met' : 'not met'}`,
    `  ours, p50 by segment: submit answered ${s.submit_answered} ms; submit → container started ${s.submit_to_started}; ran ${s.ran}; exit → final and verified at n1 ${s.exit_to_final}`,
    `  host alone, p50 by call: create+start ${h.create_start} ms, wait ${h.wait} (exit seen ${h.exit_seen_after} after it), stats ${h.stats}, logs ${h.logs}, remove ${h.remove}`,
    `  throughput: ${t.jobs} jobs, ${t.concurrency} in flight, ${t.cpus_per_job} CPU each`,
    `    ours        ${t.ours.jobs_per_s} jobs/s (${t.ours.wall_s} s${t.ours.failed > 0 ? `, ${t.ours.failed} failed` : ''})`,
    `    podman run  ${t.podman_run.jobs_per_s} jobs/s (${t.podman_run.wall_s} s${t.podman_run.failed > 0 ? `, ${t.podman_run.failed} failed` : ''})`,
    `    ours / podman run  ${t.ratio}×`,
  ].join('\n');
}
