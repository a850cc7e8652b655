/**
 * `ecd job offers|submit|status|logs|cancel|receipt|providers|verify`: compute jobs through a
 * daemon (PROTOCOL §10, docs/jobs.md). The daemon signs the spec with its key, sends it to a
 * provider daemon over the encrypted frames, follows it, verifies the receipt and the output.
 * `verify` checks a receipt file (and the output against it) offline.
 *
 * Exit codes: 0 done / valid (`submit --wait`: the job ran to its end, whatever its own exit
 * code, which it prints), 1 failure / invalid / refused / killed / unverifiable, 2 usage.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { loadIdentityCrypto } from '../../wire/identity-crypto.js';
import { outputChain, verifyJobMessage } from '../../wire/msg-jobs.js';
import { decodeReceiptFile } from '../../wire/receipt-file.js';
import { CliError, errorMessage, parseIntInRange, writeJson, writeStderr, writeStdout } from '../cli-util.js';
import { writeSecretFile } from '../files.js';
import { addEndpointOptions, clientFor, usageExitCodes, withCliErrors, type ClientCommandOptions } from './token.js';

/** The endpoint options without `--timeout`, which `submit` uses for the job (`--request-timeout` instead). */
function addSubmitEndpointOptions(cmd: Command): Command {
  return cmd
    .option('--node <dir>', 'daemon data directory (reads api-url and api-token); env ECD_NODE')
    .option('--api <url>', 'control API base URL (with --api-token-file)')
    .option('--api-token-file <file>', 'file holding the API bearer token (with --api)')
    .option('--request-timeout <ms>', 'per-request timeout in ms', parseIntInRange(100, 600_000), 10_000)
    .option('--json', 'print one JSON object on stdout');
}

interface SubmitOptions extends Omit<ClientCommandOptions, 'timeout'> {
  readonly requestTimeout: number;
  readonly image?: string;
  readonly provider?: string;
  readonly cpu: number;
  readonly memory: number;
  readonly timeout: number;
  readonly env?: string[];
  readonly maxOutput: number;
  readonly spotCheck?: boolean;
  readonly wait?: boolean;
  readonly waitTimeout: number;
}

const toHexStr = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Bytes with an optional k/m/g suffix (powers of 1 024). */
export function parseBytes(v: string): number {
  const m = /^([0-9]+)([kmg]?)i?b?$/i.exec(v.trim());
  if (m === null) throw new InvalidArgumentError('expected bytes, e.g. 67108864, 64m or 1g');
  const n = Number(m[1]) * 1024 ** ({ '': 0, k: 1, m: 2, g: 3 }[(m[2] ?? '').toLowerCase()] ?? 0);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('too large');
  return n;
}

/** Milliseconds with an optional ms/s/m/h suffix (plain numbers are ms). */
export function parseDuration(v: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (m === null) throw new InvalidArgumentError('expected a duration, e.g. 30000, 30s, 5m');
  const n = Math.round(Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms']);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive duration');
  return n;
}

function parseCpu(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of CPUs, e.g. 0.5');
  return n;
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** Why a finished job counts as a failure of `submit --wait` (exit 1), or null when it ran to its end. */
function jobProblem(j: Record<string, unknown>): string | null {
  if (j['state'] === 'refused') return `job ${String(j['id'])} was refused`;
  if (j['state'] === 'failed') return `job ${String(j['id'])} failed on the provider`;
  if (j['state'] === 'killed') return `job ${String(j['id'])} was killed: ${String(j['killReason'])}`;
  if (j['output'] === 'unverifiable') return `job ${String(j['id'])}: its receipt or output does not verify`;
  return null;
}

function summary(j: Record<string, unknown>): string {
  const r = j['receipt'] as Record<string, unknown> | null;
  const parts = [`job ${String(j['id'])}`, `state ${String(j['state'])}`];
  if (j['state'] === 'killed') parts.push(`killed: ${String(j['killReason'])}`);
  if (r !== null) parts.push(`exit ${String(j['exitCode'])}`, `cpu ${Number(r['cpuMillis'])} ms`, `peak memory ${Number(r['peakMemory'])} B`, `stdout ${Number(r['stdoutBytes'])} B`);
  const refused = j['refused'] as { reason: string; detail: string } | undefined;
  if (refused !== undefined) parts.push(`refused: ${refused.reason}: ${refused.detail}`);
  if (j['spotMatch'] !== undefined) parts.push(`spot check ${j['spotMatch'] === true ? 'agrees' : 'DISAGREES'}`);
  parts.push(`output ${String(j['output'])}`);
  return parts.join(', ');
}

export function registerJob(program: Command): void {
  const job = usageExitCodes(program.command('job').description('run compute jobs on provider daemons and check their receipts'));

  const offers = job.command('offers').description("providers' current offers this daemon heard, with its trust in each");
  addEndpointOptions(offers).action(async (opts: ClientCommandOptions) => {
    const o = await withCliErrors(async () => (await clientFor(opts)).jobOffers());
    if (opts.json === true) return writeJson(o);
    if (o.offers.length === 0) writeStderr('no offers (providers announce every few seconds; is a provider Connected?)');
    for (const x of o.offers) {
      writeStdout(`${String(x['provider'])}  cpu ${String(x['cpu'])}  memory ${String(x['memory'])}  max ${String(x['maxTimeoutMs'])} ms  price ${String(x['pricePerCpuSecond'])}/cpu-s ${String(x['pricePerGiBSecond'])}/GiB-s  score ${Number(x['score']).toFixed(2)}  images ${(x['images'] as string[]).join(',')}`);
    }
    if (o.own !== undefined) writeStdout(`this daemon offers: cpu ${String(o.own['cpu'])}, memory ${String(o.own['memory'])}, images ${(o.own['images'] as string[]).join(',')}`);
  });

  const submit = job
    .command('submit')
    .description('submit a job; with --wait, follow it to the end and print its output')
    .argument('<argv...>', 'the command and its arguments (after --)')
    .option('--image <id>', 'image id (sha256:… or 64 hex) the provider offers')
    .option('--provider <pk>', "a provider's public key (default: picked by trust and price)")
    .option('--cpu <n>', 'CPUs', parseCpu, 1)
    .option('--memory <bytes>', 'memory limit (also the swap limit), e.g. 64m', parseBytes, 64 * 1024 * 1024)
    .option('--timeout <duration>', 'killed after this, e.g. 30s', parseDuration, 60_000)
    .option('--env <NAME=value>', 'environment variable (repeatable)', collect)
    .option('--max-output <bytes>', 'output kept per stream, e.g. 1m', parseBytes, 1024 * 1024)
    .option('--spot-check', 're-run it on a second provider once it completed and compare the outputs')
    .option('--wait', 'follow the job until it ended and its output is verified, then print the output')
    .option('--wait-timeout <duration>', 'give up waiting after this (exit 1)', parseDuration, 120_000);
  addSubmitEndpointOptions(submit).action(async (argv: string[], opts: SubmitOptions) => {
    const out = await withCliErrors(async () => {
      if (opts.image === undefined) throw new CliError('--image ID is required (see: ecd job offers)', 2);
      const client = await clientFor({ ...opts, timeout: opts.requestTimeout });
      const r = await client.submitJob({
        image: opts.image,
        argv,
        env: opts.env ?? [],
        cpu: opts.cpu,
        memory: opts.memory,
        timeoutMs: opts.timeout,
        maxOutput: opts.maxOutput,
        ...(opts.provider === undefined ? {} : { provider: opts.provider }),
        ...(opts.spotCheck === true ? { spotCheck: true } : {}),
      });
      if (opts.wait !== true) return { submitted: r, job: null, logs: null };
      const deadline = Date.now() + opts.waitTimeout;
      let j = await client.job(r.id);
      while (j['final'] !== true || j['output'] === 'fetching' || j['output'] === 'none') {
        if (j['output'] === 'unverifiable' || j['state'] === 'refused') break;
        const left = deadline - Date.now();
        if (left <= 0) throw new CliError(`job ${r.id} is still ${String(j['state'])} after ${opts.waitTimeout} ms`);
        j = await client.job(r.id, Math.min(left, 30_000));
      }
      const logs = await client.jobLogs(r.id);
      return { submitted: r, job: j, logs };
    });
    if (opts.json === true) {
      if (out.job !== null && jobProblem(out.job) !== null) process.exitCode = 1;
      writeJson({ ...out.submitted, ...(out.job === null ? {} : { job: out.job }), ...(out.logs === null ? {} : { stdout: out.logs.stdout === null ? null : Buffer.from(out.logs.stdout).toString('utf8'), stderr: out.logs.stderr === null ? null : Buffer.from(out.logs.stderr).toString('utf8') }) });
      return;
    }
    if (out.job === null) {
      writeStdout(out.submitted.id);
      writeStderr(`submitted to ${out.submitted.provider}: ${out.submitted.state}`);
      return;
    }
    if (out.logs?.stdout !== null && out.logs?.stdout !== undefined) process.stdout.write(out.logs.stdout);
    if (out.logs?.stderr !== null && out.logs?.stderr !== undefined) process.stderr.write(out.logs.stderr);
    writeStderr(summary(out.job));
    const problem = jobProblem(out.job);
    if (problem !== null) throw new CliError(problem);
  });

  const status = job.command('status').description("a job's state, receipt summary and output status").argument('<id>', 'job id').option('--wait <duration>', 'hold until it is final', parseDuration);
  addEndpointOptions(status).action(async (id: string, opts: ClientCommandOptions & { wait?: number }) => {
    const j = await withCliErrors(async () => (await clientFor(opts)).job(id, opts.wait ?? 0));
    if (opts.json === true) writeJson(j);
    else writeStdout(summary(j));
  });

  const logs = job
    .command('logs')
    .description("a job's verified output (checked chunk by chunk against the receipt)")
    .argument('<id>', 'job id')
    .option('--stream <s>', 'stdout, stderr or both', 'both');
  addEndpointOptions(logs).action(async (id: string, opts: ClientCommandOptions & { stream: string }) => {
    const l = await withCliErrors(async () => {
      if (!['stdout', 'stderr', 'both'].includes(opts.stream)) throw new CliError('--stream is stdout, stderr or both', 2);
      const x = await (await clientFor(opts)).jobLogs(id);
      if (!x.verified) throw new CliError(`job ${id}: no verified output yet (see: ecd job status ${id})`);
      return x;
    });
    if (opts.json === true) return writeJson({ stdout: Buffer.from(l.stdout ?? []).toString('utf8'), stderr: Buffer.from(l.stderr ?? []).toString('utf8') });
    if (opts.stream !== 'stderr' && l.stdout !== null) process.stdout.write(l.stdout);
    if (opts.stream !== 'stdout' && l.stderr !== null) process.stderr.write(l.stderr);
  });

  const cancel = job.command('cancel').description('ask the provider to kill a job (killed: owner)').argument('<id>', 'job id');
  addEndpointOptions(cancel).action(async (id: string, opts: ClientCommandOptions) => {
    const j = await withCliErrors(async () => (await clientFor(opts)).cancelJob(id));
    if (opts.json === true) writeJson(j);
    else writeStdout(`cancel sent: ${summary(j)}`);
  });

  const receipt = job
    .command('receipt')
    .description("a job's signed receipt; --out writes it as a file for ecd job verify")
    .argument('<id>', 'job id')
    .option('--out <file>', 'write the receipt file here')
    .option('--force', 'overwrite --out');
  addEndpointOptions(receipt).action(async (id: string, opts: ClientCommandOptions & { out?: string; force?: boolean }) => {
    const r = await withCliErrors(async () => {
      const bytes = await (await clientFor(opts)).jobReceipt(id);
      if (bytes === null) throw new CliError(`job ${id} has no receipt yet`);
      const d = decodeReceiptFile(bytes);
      if (!d.ok) throw new CliError(`the daemon sent a malformed receipt: ${d.reason}`);
      if (opts.out !== undefined) {
        try {
          await writeSecretFile(opts.out, bytes, { overwrite: opts.force === true, mode: 0o644 });
        } catch (err) {
          throw new CliError(`cannot write ${opts.out}: ${errorMessage(err)}`);
        }
      }
      return d.receipt;
    });
    const view = { jobId: toHexStr(r.jobId), provider: toHexStr(r.provider), state: r.state, killReason: r.killReason, exitCode: r.exitCode, start: r.start, end: r.end, cpuMillis: r.cpuMillis, peakMemoryBytes: r.peakMemoryBytes, stdoutBytes: r.stdoutBytes, stderrBytes: r.stderrBytes, stdoutHash: toHexStr(r.stdoutHash), stderrHash: toHexStr(r.stderrHash), ...(opts.out === undefined ? {} : { file: opts.out }) };
    if (opts.json === true) writeJson(view);
    else writeStdout(Object.entries(view).map(([k, v]) => `${k.padEnd(16)}${String(v)}`).join('\n'));
  });

  const anchor = job
    .command('anchor')
    .description("commit a block creating the receipt's token, so the network attests when the receipt existed")
    .argument('<id>', 'job id')
    .option('--wait', 'until the anchor block is committed at this daemon')
    .option('--wait-timeout <duration>', 'give up waiting after this (exit 1)', parseDuration, 30_000);
  addEndpointOptions(anchor).action(async (id: string, opts: ClientCommandOptions & { wait?: boolean; waitTimeout: number }) => {
    const r = await withCliErrors(async () => {
      const client = await clientFor(opts);
      const a = await client.anchorJob(id);
      if (opts.wait !== true) return a;
      const w = await client.waitForBlock(a.block, { timeoutMs: opts.waitTimeout });
      if (w.outcome !== 'committed') throw new CliError(`anchor block ${a.block} for job ${id}: ${w.outcome}`);
      return { ...a, status: w.status };
    });
    if (opts.json === true) writeJson(r);
    else writeStdout(`receipt token ${r.token}: block ${r.block} ${r.status}`);
  });

  const providers = job.command('providers').description("this daemon's trust in each provider it used (verified receipts, decayed)");
  addEndpointOptions(providers).action(async (opts: ClientCommandOptions) => {
    const p = await withCliErrors(async () => (await clientFor(opts)).jobProviders());
    if (opts.json === true) return writeJson({ providers: p });
    for (const x of p) writeStdout(`${String(x['provider'])}  score ${Number(x['score']).toFixed(2)}  completed ${String(x['completed'])}  failed ${String(x['failed'])}  disputed ${String(x['disputed'])}`);
  });

  job
    .command('verify')
    .description('check a receipt file offline (and output files against it): exit 0 when valid, 1 with the reason')
    .argument('<receipt>', 'receipt file (ecd job receipt ID --out F)')
    .option('--stdout <file>', 'check this file against the receipt\'s stdout hash and size')
    .option('--stderr <file>', 'check this file against the receipt\'s stderr hash and size')
    .option('--json', 'print {valid, …} as JSON')
    .action(async (file: string, opts: { stdout?: string; stderr?: string; json?: boolean }) => {
      const fail = (reason: string): never => {
        if (opts.json === true) writeJson({ valid: false, reason });
        throw new CliError(reason);
      };
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(file));
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${errorMessage(err)}`);
      }
      if (bytes.length > 4096) return fail(`${file} is not a receipt file (too large)`);
      const d = decodeReceiptFile(bytes);
      if (!d.ok) return fail(`${file}: ${d.reason}`);
      const crypto = await loadIdentityCrypto();
      if (!verifyJobMessage(crypto.ed25519, d.networkId, d.receipt)) return fail(`the receipt signature does not verify for provider ${toHexStr(d.receipt.provider)} on network ${d.networkId}`);
      for (const stream of ['stdout', 'stderr'] as const) {
        const path = opts[stream];
        if (path === undefined) continue;
        let data: Uint8Array;
        try {
          data = new Uint8Array(await readFile(path));
        } catch (err) {
          throw new CliError(`cannot read ${path}: ${errorMessage(err)}`);
        }
        const want = stream === 'stdout' ? d.receipt.stdoutHash : d.receipt.stderrHash;
        const size = stream === 'stdout' ? d.receipt.stdoutBytes : d.receipt.stderrBytes;
        if (data.length !== size || !Buffer.from(outputChain(crypto.blake3, d.receipt.jobId, stream, data).root).equals(Buffer.from(want))) {
          return fail(`${path} is not the ${stream} this receipt names (${size} bytes, hash ${toHexStr(want).slice(0, 16)}…)`);
        }
      }
      const r = d.receipt;
      if (opts.json === true) writeJson({ valid: true, jobId: toHexStr(r.jobId), provider: toHexStr(r.provider), networkId: d.networkId.toString(10), state: r.state, exitCode: r.exitCode });
      else writeStdout(`valid receipt: job ${toHexStr(r.jobId)} by provider ${toHexStr(r.provider)}: ${r.state}${r.state === 'killed' ? ` (${r.killReason})` : ''}, exit ${r.exitCode}${opts.stdout !== undefined || opts.stderr !== undefined ? '; output matches' : ''}`);
    });
}
