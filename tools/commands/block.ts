/**
 * `ecd block submit FILE` (hand-built, possibly conflicting blocks) and `ecd block get ID`.
 * The file forms (hex, {"block": hex}, or the readable JSON with entries and optional signatures)
 * are described in tools/token-blocks.ts and in `ecd block submit --help`.
 */
import type { Command } from 'commander';
import { isZero } from '../../wire/block.js';
import { loadIdentityCrypto } from '../../wire/identity-crypto.js';
import { toHex } from '../../wire/identity-file.js';
import { ApiError } from '../api-client.js';
import { CliError, writeJson, writeStdout } from '../cli-util.js';
import {
  blockIdHex,
  completeDraft,
  decodeSignedBlockHex,
  loadOwnerKey,
  parseBlockFile,
  parseHex32,
  readBlockFile,
  signedBlockHex,
  signedBlockJson,
  type OwnerKey,
} from '../token-blocks.js';
import {
  addEndpointOptions,
  addWaitOptions,
  clientFor,
  failIfNotCommitted,
  outcomeJson,
  outcomeLine,
  submitAndMaybeWait,
  usageExitCodes,
  withCliErrors,
  type ClientCommandOptions,
} from './token.js';

const FILE_HELP = `
FILE holds one signed block, as
  hex of the encoded signed block (whitespace ignored), or
  {"block": "<hex>"}  (the POST /v1/blocks body), or
  {"time": <unix ms, optional>,
   "entries": [{"token": hex32, "last": hex32 | "0", "next_key_hash": hex32 | "0"}, ...],   1..6
   "signatures": [{"index": i, "public_key": hex32, "signature": hex64}, ...]}             optional
  An entry may give "next_public_key": hex32 instead of "next_key_hash". Without "time" the block
  gets max(now, every parent's time + 1) (parents fetched from the daemon). Without "signatures"
  every entry with last != 0 is signed with --key. Explicit signatures are sent unchanged, so
  conflicting or deliberately bad blocks can be submitted.`;

interface SubmitOptions extends ClientCommandOptions {
  readonly dryRun?: boolean;
}

export function registerBlock(program: Command): void {
  const block = usageExitCodes(program.command('block').description('submit hand-built blocks and inspect blocks at a daemon'));

  const submit = block
    .command('submit')
    .description('submit the signed block in FILE through the daemon (JSON or hex; see below)')
    .argument('<file>', 'block file')
    .option('--key <file>', 'owner key file, to sign entries when FILE has no "signatures"')
    .option('--dry-run', 'build and print the block (id, hex, JSON) without submitting it')
    .addHelpText('after', FILE_HELP);
  addWaitOptions(addEndpointOptions(submit)).action(async (file: string, opts: SubmitOptions) => {
    const crypto = await loadIdentityCrypto();
    const r = await withCliErrors(async () => {
      // Local input first.
      const content = parseBlockFile(crypto, await readBlockFile(file));
      const owner: OwnerKey | null = opts.key === undefined ? null : await loadOwnerKey(crypto, opts.key);
      const client = await clientFor(opts);
      const { networkId } = await client.status();
      let signed;
      if (content.kind === 'signed') {
        signed = content.signed;
      } else {
        const parentTimes: number[] = [];
        if (content.time === null) {
          for (const e of content.entries) {
            if (isZero(e.last)) continue;
            const b = await client.block(toHex(e.last)).catch((err: unknown) => {
              if (err instanceof ApiError && err.status === 404) return null;
              throw err;
            });
            if (b?.block !== undefined) parentTimes.push(decodeSignedBlockHex(b.block, `parent ${toHex(e.last)}`).block.time);
          }
        }
        signed = completeDraft(crypto, networkId, content, owner, Date.now(), parentTimes);
      }
      const id = blockIdHex(crypto, networkId, signed);
      if (opts.dryRun === true) return { dry: true as const, id, signed };
      return { dry: false as const, id, signed, sub: await submitAndMaybeWait(client, signed, id, opts) };
    });
    if (r.dry) {
      if (opts.json === true) writeJson({ id: r.id, block: signedBlockHex(r.signed), ...signedBlockJson(r.signed) });
      else writeStdout(`block ${r.id}\n${signedBlockHex(r.signed)}`);
      return;
    }
    if (opts.json === true) writeJson(outcomeJson(r.sub));
    else writeStdout(outcomeLine(r.sub));
    failIfNotCommitted([r.sub]);
  });

  const get = block
    .command('get')
    .description("block ID's status at the daemon (--wait: until it is decided)")
    .argument('<id>', 'block id (64 hex characters)')
    .option('--decode', 'also print the block content when the daemon has it');
  addWaitOptions(addEndpointOptions(get)).action(async (idArg: string, opts: ClientCommandOptions & { decode?: boolean }) => {
    const r = await withCliErrors(async () => {
      const id = toHex(parseHex32(idArg, 'bad-token', 'ID'));
      const client = await clientFor(opts);
      if (opts.wait === true) await client.waitForBlock(id, { timeoutMs: opts.waitTimeout });
      return client.block(id);
    });
    const decoded = opts.decode === true && r.block !== undefined ? signedBlockJson(decodeSignedBlockHex(r.block)) : undefined;
    if (opts.json === true) writeJson({ ...r, ...(decoded === undefined ? {} : { decoded }) });
    else {
      writeStdout(`block ${r.id} ${r.status}${r.seq === undefined ? '' : ` seq ${r.seq}`}`);
      if (decoded !== undefined) writeStdout(JSON.stringify(decoded, null, 2));
    }
    if (opts.wait === true && r.status !== 'committed' && r.status !== 'stored') throw new CliError(`block ${r.id}: ${r.status}`, 1);
  });
}
