/**
 * `ecd token create|transfer|destroy|get|history`: token owner commands. Blocks are built and
 * signed here (tools/token-blocks.ts) with an owner key file and submitted through one daemon's
 * control API (tools/api-client.ts); `--wait` long-polls that daemon until it commits the block or
 * the block fails. Everything the command can check locally (arguments, key files, the endpoint,
 * ownership) is checked before anything is submitted.
 *
 * Exit codes: 0 done (with --wait: committed), 1 failure (daemon refused, unreachable, block
 * blocked/invalid/expired or not decided in time), 2 usage (bad argument, option or file).
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { loadIdentityCrypto } from '../../wire/identity-crypto.js';
import type { SignedBlock } from '../../wire/block.js';
import { ZERO_ID } from '../../wire/block.js';
import { toHex } from '../../wire/identity-file.js';
import { ApiClient, ApiError, resolveEndpoint, type TokenMapping, type WaitResult } from '../api-client.js';
import { CliError, parseIntInRange, writeJson, writeStderr, writeStdout } from '../cli-util.js';
import {
  blockIdHex,
  buildCreateBlocks,
  buildUpdateBlock,
  decodeSignedBlockHex,
  loadOwnerKey,
  MAX_CREATE_COUNT,
  parentFromBlock,
  parseToken,
  randomTokens,
  resolveRecipient,
  signedBlockHex,
  TokenBlockError,
  type OwnerKey,
  type TokenCrypto,
  type TokenParent,
} from '../token-blocks.js';

export interface ClientCommandOptions {
  readonly node?: string;
  readonly api?: string;
  readonly apiTokenFile?: string;
  readonly key?: string;
  readonly wait?: boolean;
  readonly waitTimeout: number;
  readonly timeout: number;
  readonly json?: boolean;
}

/** Commander usage errors (unknown option, missing argument, bad value) exit 2, help exits 0. */
export function usageExitCodes(cmd: Command): Command {
  return cmd.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });
}

/** --node / --api / --api-token-file / --timeout / --json on every client command. */
export function addEndpointOptions(cmd: Command): Command {
  return cmd
    .option('--node <dir>', 'daemon data directory (reads api-url and api-token); env ECD_NODE')
    .option('--api <url>', 'control API base URL (with --api-token-file)')
    .option('--api-token-file <file>', 'file holding the API bearer token (with --api)')
    .option('--timeout <ms>', 'per-request timeout in ms', parseIntInRange(100, 600_000), 10_000)
    .option('--json', 'print one JSON object on stdout');
}

export function addWaitOptions(cmd: Command): Command {
  return cmd
    .option('--wait', 'block until the entry daemon commits the block or it fails')
    .option('--wait-timeout <ms>', 'give up waiting after this many ms (exit 1)', parseIntInRange(1, 600_000), 30_000);
}

/** Turns library errors into CLI errors: bad input is usage (2), the rest failure (1). */
export function cliErrorOf(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof TokenBlockError) return new CliError(err.message, err.usage ? 2 : 1);
  if (err instanceof ApiError) {
    if (err.code === 'bad-endpoint' || err.code === 'bad-request') return new CliError(err.reason, 2);
    const detail = err.detail === null || err.reason.includes(err.detail) ? '' : ` (${err.detail})`;
    return new CliError(`${err.message}${detail}`, 1);
  }
  return err;
}

export async function withCliErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw cliErrorOf(err);
  }
}

export async function clientFor(opts: ClientCommandOptions): Promise<ApiClient> {
  const endpoint = await resolveEndpoint({ node: opts.node, api: opts.api, apiTokenFile: opts.apiTokenFile });
  return new ApiClient(endpoint, { timeoutMs: opts.timeout });
}

export async function requireKey(crypto: TokenCrypto, opts: ClientCommandOptions): Promise<OwnerKey> {
  if (opts.key === undefined) throw new CliError('--key FILE (the owner key, as `ecd keygen` writes) is required', 2);
  return loadOwnerKey(crypto, opts.key);
}

export interface SubmittedBlock {
  readonly id: string;
  readonly status: string;
  readonly wait?: WaitResult;
}

/** Submits; with --wait long-polls; returns what to print. Checks the daemon's id against ours. */
export async function submitAndMaybeWait(client: ApiClient, signed: SignedBlock, expectedId: string, opts: ClientCommandOptions): Promise<SubmittedBlock> {
  const answer = await client.submitBlock(signedBlockHex(signed));
  if (answer.id !== expectedId) {
    throw new CliError(`the daemon computed block id ${answer.id}, we computed ${expectedId} (different network id?)`, 1);
  }
  if (opts.wait !== true) return { id: answer.id, status: answer.status };
  const wait = await client.waitForBlock(answer.id, { timeoutMs: opts.waitTimeout });
  return { id: answer.id, status: wait.status, wait };
}

export function outcomeJson(s: SubmittedBlock): Record<string, unknown> {
  return {
    id: s.id,
    status: s.status,
    ...(s.wait === undefined
      ? {}
      : { outcome: s.wait.outcome, elapsed_ms: Math.round(s.wait.elapsedMs), ...(s.wait.seq === undefined ? {} : { seq: s.wait.seq }) }),
  };
}

export function outcomeLine(s: SubmittedBlock): string {
  if (s.wait === undefined) return `block ${s.id} submitted (${s.status})`;
  const seq = s.wait.seq === undefined ? '' : `, seq ${s.wait.seq}`;
  return `block ${s.id} ${s.wait.outcome} (status ${s.wait.status}${seq}, ${Math.round(s.wait.elapsedMs)} ms)`;
}

/** After printing: --wait results other than committed are a failure (exit 1). */
export function failIfNotCommitted(blocks: readonly SubmittedBlock[]): void {
  const bad = blocks.filter((b) => b.wait !== undefined && b.wait.outcome !== 'committed');
  if (bad.length === 0) return;
  const first = bad[0] as SubmittedBlock;
  throw new CliError(`${bad.length === 1 ? 'block' : `${bad.length} blocks, first`} ${first.id}: ${first.wait?.outcome ?? ''}`, 1);
}

/**
 * The token's current block as a parent: the entry daemon's local mapping, else the network's
 * answers (the most common block among them); then that block's body for its time and the key
 * hash it set. Throws CliError(1) when the token is unknown.
 */
export async function currentParent(crypto: TokenCrypto, client: ApiClient, networkId: bigint, token: Uint8Array): Promise<TokenParent> {
  const tokenHex = toHex(token);
  const local: TokenMapping | null = await client.token(tokenHex);
  let id: string | undefined = local?.block;
  let time: number | undefined = local?.time;
  if (local === null) {
    const net = await client.networkToken(tokenHex);
    const votes = new Map<string, { n: number; time: number }>();
    for (const a of net.answers) {
      if (typeof a.block !== 'string' || !/^[0-9a-f]{64}$/.test(a.block)) continue;
      const v = votes.get(a.block) ?? { n: 0, time: a.time };
      v.n++;
      votes.set(a.block, v);
    }
    const best = [...votes.entries()].sort((x, y) => y[1].n - x[1].n)[0];
    if (best === undefined) throw new CliError(`token ${tokenHex}: not found (neither this daemon nor its neighbourhood knows it)`, 1);
    id = best[0];
    time = best[1].time;
  }
  if (id === undefined || time === undefined) throw new CliError(`token ${tokenHex}: not found`, 1);
  const body = await client.block(id).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  });
  if (body?.block !== undefined) {
    const parent = parentFromBlock(crypto, networkId, token, decodeSignedBlockHex(body.block, `block ${id} from the daemon`));
    if (toHex(parent.id) !== id) throw new CliError(`the daemon's block ${id} hashes to ${toHex(parent.id)} (different network id?)`, 1);
    return parent;
  }
  return { token, id: Uint8Array.from(Buffer.from(id, 'hex')), time };
}

interface TokenUpdateOptions extends ClientCommandOptions {
  readonly to?: string;
}

async function runUpdate(tokenArg: string, opts: TokenUpdateOptions, destroy: boolean): Promise<void> {
  const crypto = await loadIdentityCrypto();
  const result = await withCliErrors(async () => {
    // Local input first: nothing reaches the daemon unless all of it is good.
    const token = parseToken(tokenArg);
    const owner = await requireKey(crypto, opts);
    if (!destroy && opts.to === undefined) throw new CliError('--to KEYFILE|KEYHASH is required', 2);
    const next = destroy ? ZERO_ID : await resolveRecipient(crypto, opts.to as string);
    const client = await clientFor(opts);
    const { networkId } = await client.status();
    const parent = await currentParent(crypto, client, networkId, token);
    const signed = buildUpdateBlock(crypto, networkId, [{ parent, nextKeyHash: next }], owner, Date.now());
    const id = blockIdHex(crypto, networkId, signed);
    const sub = await submitAndMaybeWait(client, signed, id, opts);
    return { sub, token, parent, next, time: signed.block.time };
  });
  const { sub, token, parent, next, time } = result;
  if (opts.json === true) {
    writeJson({ ...outcomeJson(sub), token: toHex(token), parent: toHex(parent.id), next_key_hash: toHex(next), time });
  } else {
    writeStdout(outcomeLine(sub));
  }
  failIfNotCommitted([sub]);
}

export function registerToken(program: Command): void {
  const token = usageExitCodes(program.command('token').description('create, transfer, destroy and inspect tokens through a daemon'));

  const create = token
    .command('create')
    .description(`create random tokens owned by --key (6 per block; N > 6 makes several blocks)`)
    .option('--count <n>', `tokens to create (1..${MAX_CREATE_COUNT})`, parseIntInRange(1, MAX_CREATE_COUNT), 1)
    .option('--key <file>', 'owner key file (ecd keygen); the tokens are created for BLAKE3 of its public key');
  addWaitOptions(addEndpointOptions(create)).action(async (opts: ClientCommandOptions & { count: number }) => {
    const crypto = await loadIdentityCrypto();
    const done: SubmittedBlock[] = [];
    const planned: { id: string; tokens: string[] }[] = [];
    let failure: unknown = null;
    await withCliErrors(async () => {
      const owner = await requireKey(crypto, opts);
      const tokens = randomTokens(opts.count, (n) => new Uint8Array(randomBytes(n)));
      const client = await clientFor(opts);
      const { networkId } = await client.status();
      const blocks = buildCreateBlocks(tokens, owner.keyHash, Date.now());
      for (const b of blocks) planned.push({ id: blockIdHex(crypto, networkId, b), tokens: b.block.entries.map((e) => toHex(e.token)) });
      // Submit every block first, then wait for all of them together.
      const waitOpts = { ...opts, wait: false };
      for (let i = 0; i < blocks.length; i++) {
        try {
          done.push(await submitAndMaybeWait(client, blocks[i] as SignedBlock, (planned[i] as { id: string }).id, waitOpts));
        } catch (err) {
          if (i === 0) throw err;
          failure = cliErrorOf(err);
          break;
        }
      }
      if (opts.wait === true) {
        const waits = await Promise.all(done.map((d) => client.waitForBlock(d.id, { timeoutMs: opts.waitTimeout })));
        waits.forEach((w, i) => (done[i] = { id: w.id, status: w.status, wait: w }));
      }
    });
    const rows = done.map((d, i) => ({ ...outcomeJson(d), tokens: (planned[i] as { tokens: string[] }).tokens }));
    if (opts.json === true) {
      writeJson({ blocks: rows, tokens: rows.flatMap((r) => r.tokens) });
    } else {
      done.forEach((d, i) => {
        writeStdout(outcomeLine(d));
        for (const t of (planned[i] as { tokens: string[] }).tokens) writeStdout(`  token ${t}`);
      });
    }
    if (failure !== null) {
      const f = failure as Error;
      throw new CliError(`submitted ${done.length} of ${planned.length} blocks, then: ${f.message}`, 1);
    }
    failIfNotCommitted(done);
  });

  const transfer = token
    .command('transfer')
    .description('move TOKEN to a new owner: signs a block extending its current block with --key')
    .argument('<token>', 'token id (64 hex characters)')
    .option('--to <keyfile|keyhash>', 'new owner: a key/identity file (its public_key) or BLAKE3(pk) as 64 hex')
    .option('--key <file>', 'current owner key file');
  addWaitOptions(addEndpointOptions(transfer)).action((tokenArg: string, opts: TokenUpdateOptions) => runUpdate(tokenArg, opts, false));

  const destroy = token
    .command('destroy')
    .description('make TOKEN final (next key hash 0): nobody can update it again')
    .argument('<token>', 'token id (64 hex characters)')
    .option('--key <file>', 'current owner key file');
  addWaitOptions(addEndpointOptions(destroy)).action((tokenArg: string, opts: TokenUpdateOptions) => runUpdate(tokenArg, opts, true));

  const get = token
    .command('get')
    .description("TOKEN's mapping at the daemon (--network: ask the token's neighbourhood)")
    .argument('<token>', 'token id (64 hex characters)')
    .option('--network', 'query the network (QUERY_TOKEN) instead of the local mapping')
    .option('--network-timeout <ms>', 'how long the daemon collects answers', parseIntInRange(1, 10_000), 1_000)
    .option('--proof', 'with --network: ask for storage proofs (PROTOCOL §7) and show each verdict');
  addEndpointOptions(get).action(async (tokenArg: string, opts: ClientCommandOptions & { network?: boolean; networkTimeout: number; proof?: boolean }) => {
    const out = await withCliErrors(async () => {
      const t = toHex(parseToken(tokenArg));
      const client = await clientFor(opts);
      if (opts.proof === true && opts.network !== true) throw new CliError('--proof needs --network', 2);
      if (opts.network === true) return { kind: 'network' as const, v: await client.networkToken(t, { timeoutMs: opts.networkTimeout, proof: opts.proof === true }) };
      const m = await client.token(t);
      if (m === null) throw new CliError(`token ${t}: not found at this daemon (try --network)`, 1);
      return { kind: 'local' as const, v: m };
    });
    if (opts.json === true) {
      writeJson(out.v);
    } else if (out.kind === 'local') {
      const m = out.v;
      writeStdout(
        [`token   ${m.token}`, `block   ${m.block}`, `parent  ${m.parent}`, `time    ${m.time} (${new Date(m.time).toISOString()})`, `seq     ${m.seq}`, `source  ${m.source}`, `hosted  ${m.hosted}`].join('\n'),
      );
    } else {
      const count = new Map<string, number>();
      for (const a of out.v.answers) count.set(a.block ?? 'none', (count.get(a.block ?? 'none') ?? 0) + 1);
      const summary = [...count.entries()].sort((x, y) => y[1] - x[1]).map(([b, n]) => `${n} × ${b === 'none' ? 'no mapping' : b}`);
      writeStdout(`token ${out.v.token}: ${out.v.answers.length} signed answers${summary.length === 0 ? '' : ` (${summary.join(', ')})`}, ${out.v.referrals.length} referrals`);
      for (const a of out.v.answers) writeStdout(`  ${a.responder}  ${a.block === null ? 'no mapping' : `block ${a.block}  seq ${a.seq}  time ${a.time}`}${a.proof === undefined || a.proof === 'none' ? '' : `  proof ${a.proof}`}`);
    }
  });

  const history = token
    .command('history')
    .description("TOKEN's blocks at the daemon, newest first (walking last through the blocks it stores)")
    .argument('<token>', 'token id (64 hex characters)');
  addEndpointOptions(history).action(async (tokenArg: string, opts: ClientCommandOptions) => {
    const h = await withCliErrors(async () => {
      const t = toHex(parseToken(tokenArg));
      const client = await clientFor(opts);
      return client.tokenHistory(t);
    });
    if (opts.json === true) {
      writeJson(h);
      return;
    }
    if (h.history.length === 0) writeStderr(`token ${h.token}: no history at this daemon`);
    for (const e of h.history) writeStdout(`${e.block}  time ${e.time}${e.seq === undefined ? '' : `  seq ${e.seq}`}  parent ${e.parent}`);
  });
}
