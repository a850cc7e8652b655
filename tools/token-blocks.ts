/**
 * Building and signing token blocks on the client (PROTOCOL §4) with an owner key file (the
 * format `ecd keygen` writes, or an identity file that carries its secret seed).
 *
 *   create   — fresh random 32-byte tokens, last = 0, next_key_hash = BLAKE3(owner pk); at most
 *              6 entries per block, so N > 6 tokens become ⌈N/6⌉ blocks; no signatures.
 *   transfer — last = the token's current block id, next_key_hash = BLAKE3(new owner pk), signed
 *              by the owner key (whose BLAKE3 the parent set as next_key_hash).
 *   destroy  — a transfer to next_key_hash = 0 (final: nobody can update it again).
 *
 * Block time (unix ms) must be greater than every parent's time, so `blockTime` takes
 * max(now, max(parent time) + 1).
 *
 * Hand-built blocks for `ecd block submit FILE`: FILE holds either the lowercase or uppercase hex
 * of an encoded signed block (whitespace ignored), or JSON in one of two forms:
 *
 *   {"block": "<hex of encodeSignedBlock>"}                      exactly what POST /v1/blocks takes
 *
 *   {                                                              the readable form
 *     "time": 1732250000000,              optional unix ms; default max(now, parents' times + 1)
 *     "entries": [                        1..6 entries, distinct tokens
 *       {"token": hex32, "last": hex32 | "0", "next_key_hash": hex32 | "0"}
 *       … or "next_public_key": hex32 instead of "next_key_hash" (the tool hashes it)
 *     ],
 *     "signatures": [                     optional; omitted: every entry with last ≠ 0 is signed
 *       {"index": 0, "public_key": hex32, "signature": hex64}      with --key
 *     ]
 *   }
 *
 * Explicit signatures are sent as given (a wrong one is the daemon's to reject), so the JSON form
 * can express conflicting and deliberately bad blocks; only structurally impossible blocks (which
 * have no encoding) are refused here.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../kernels/types.js';
import {
  BLOCK_MAX_ENTRIES,
  BLOCK_SIZES,
  BLOCK_VERSION,
  blockId,
  bytesEqual,
  checkBlockStructure,
  decodeSignedBlock,
  encodeSignedBlock,
  isZero,
  keyHash,
  signBlock,
  ZERO_ID,
  type Block,
  type BlockEntry,
  type BlockSignature,
  type SignedBlock,
} from '../wire/block.js';
import { fromHex, MAX_JSON_FILE_BYTES, parseKeyFile, toHex } from '../wire/identity-file.js';

export interface TokenCrypto {
  readonly blake3: Blake3Kernel;
  readonly ed25519: Ed25519Kernel;
}

/** `usage`: the caller gave bad input (CLI exit 2); `failure`: the world said no (exit 1). */
export type TokenBlockErrorCode = 'bad-key-file' | 'bad-token' | 'bad-recipient' | 'bad-block-file' | 'bad-count' | 'not-owner' | 'token-final' | 'parent-lacks-token';

export class TokenBlockError extends Error {
  override readonly name = 'TokenBlockError';
  constructor(
    readonly code: TokenBlockErrorCode,
    message: string,
  ) {
    super(message);
  }
  get usage(): boolean {
    return this.code !== 'not-owner' && this.code !== 'token-final' && this.code !== 'parent-lacks-token';
  }
}

export interface OwnerKey {
  readonly publicKey: Uint8Array;
  readonly keyHash: Uint8Array;
  readonly signer: Ed25519Signer;
}

/** Most tokens one `create` makes (100 blocks of 6). */
export const MAX_CREATE_COUNT = 600;

async function readSmallText(path: string, code: TokenBlockErrorCode, what: string, maxBytes = MAX_JSON_FILE_BYTES): Promise<string> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new TokenBlockError(code, `${what} ${path} is not a file`);
    if (st.size > maxBytes) throw new TokenBlockError(code, `${what} ${path} is larger than ${maxBytes} bytes`);
    return await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof TokenBlockError) throw err;
    throw new TokenBlockError(code, `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export function ownerKeyFromSeed(crypto: TokenCrypto, secretSeed: Uint8Array): OwnerKey {
  const signer = crypto.ed25519.signerFromSeed(secretSeed);
  return { publicKey: signer.publicKey, keyHash: keyHash(crypto.blake3, signer.publicKey), signer };
}

/** Reads an owner key file and checks that its public key belongs to its seed. */
export async function loadOwnerKey(crypto: TokenCrypto, path: string): Promise<OwnerKey> {
  const text = await readSmallText(path, 'bad-key-file', 'key file');
  const parsed = parseKeyFile(text);
  if (!parsed.ok) throw new TokenBlockError('bad-key-file', `${path}: ${parsed.reason}`);
  const key = ownerKeyFromSeed(crypto, parsed.value.secretSeed);
  if (!bytesEqual(key.publicKey, parsed.value.publicKey)) {
    throw new TokenBlockError('bad-key-file', `${path}: "public_key" does not belong to "secret_seed"`);
  }
  return key;
}

/** A 32-byte token or id in hex (either case). */
export function parseHex32(s: string, code: TokenBlockErrorCode, what: string): Uint8Array {
  const b = fromHex(s.trim(), 32);
  if (b === null) throw new TokenBlockError(code, `${what} must be 32 bytes of hex (64 characters), got ${JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)}`);
  return b;
}

export function parseToken(s: string): Uint8Array {
  return parseHex32(s, 'bad-token', 'TOKEN');
}

/**
 * `--to KEYFILE|KEYHASH`: 64 hex characters are a key hash (BLAKE3 of the new owner's public key);
 * anything else is a key or identity file whose "public_key" is hashed (no secret needed).
 */
export async function resolveRecipient(crypto: TokenCrypto, arg: string): Promise<Uint8Array> {
  if (/^[0-9a-fA-F]{64}$/.test(arg)) return fromHex(arg, 32) as Uint8Array;
  const text = await readSmallText(arg, 'bad-recipient', '--to key file');
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new TokenBlockError('bad-recipient', `--to ${arg}: not a key hash (64 hex) and not a JSON key file`);
  }
  const pk = typeof o === 'object' && o !== null ? fromHex((o as Record<string, unknown>)['public_key'], 32) : null;
  if (pk === null) throw new TokenBlockError('bad-recipient', `--to ${arg}: no "public_key" (32 bytes of hex) in the file`);
  return keyHash(crypto.blake3, pk);
}

/** Block time: now, but strictly after every parent (PROTOCOL §4). */
export function blockTime(now: number, parentTimes: readonly number[]): number {
  let t = Math.floor(now);
  for (const p of parentTimes) if (t <= p) t = p + 1;
  return t;
}

export function randomTokens(count: number, random: (n: number) => Uint8Array): Uint8Array[] {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_CREATE_COUNT) {
    throw new TokenBlockError('bad-count', `--count must be an integer in 1..${MAX_CREATE_COUNT}`);
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const t = random(32);
    if (t.length !== 32) throw new RangeError('random(32) must return 32 bytes');
    out.push(Uint8Array.from(t));
  }
  return out;
}

/** Creation blocks: the tokens in chunks of at most 6, all owned by `ownerKeyHash`. Unsigned (creation needs none). */
export function buildCreateBlocks(tokens: readonly Uint8Array[], ownerKeyHash: Uint8Array, time: number): SignedBlock[] {
  const blocks: SignedBlock[] = [];
  for (let i = 0; i < tokens.length; i += BLOCK_MAX_ENTRIES) {
    const entries: BlockEntry[] = tokens.slice(i, i + BLOCK_MAX_ENTRIES).map((token) => ({ token, last: ZERO_ID, nextKeyHash: ownerKeyHash }));
    const block: Block = { version: BLOCK_VERSION, time: Math.floor(time), entries };
    const code = checkBlockStructure(block, []);
    if (code !== null) throw new TokenBlockError('bad-token', `cannot build a creation block: ${code}`);
    blocks.push({ block, signatures: [] });
  }
  return blocks;
}

/** What an update needs to know about the token's current block. */
export interface TokenParent {
  readonly token: Uint8Array;
  /** Id of the block that last set the token. */
  readonly id: Uint8Array;
  /** That block's time (unix ms). */
  readonly time: number;
  /** The next_key_hash that block set for the token, when known (checked against the signer). */
  readonly nextKeyHash?: Uint8Array;
}

export interface UpdateSpec {
  readonly parent: TokenParent;
  /** BLAKE3 of the new owner's key; all-zero destroys the token. */
  readonly nextKeyHash: Uint8Array;
}

/**
 * One signed block updating 1..6 tokens, all signed by `owner`. Refuses (TokenBlockError) when a
 * parent's known next_key_hash is zero (final) or not the owner's key hash — a block the network
 * would reject anyway.
 */
export function buildUpdateBlock(crypto: TokenCrypto, networkId: bigint, updates: readonly UpdateSpec[], owner: OwnerKey, now: number): SignedBlock {
  if (updates.length < 1 || updates.length > BLOCK_MAX_ENTRIES) throw new TokenBlockError('bad-count', `a block updates 1..${BLOCK_MAX_ENTRIES} tokens`);
  for (const u of updates) {
    const nk = u.parent.nextKeyHash;
    if (nk === undefined) continue;
    if (isZero(nk)) throw new TokenBlockError('token-final', `token ${toHex(u.parent.token)} is final (destroyed); it cannot be updated`);
    if (!bytesEqual(nk, owner.keyHash)) {
      throw new TokenBlockError('not-owner', `token ${toHex(u.parent.token)} is not owned by this key (its next key hash is ${toHex(nk)}, this key's is ${toHex(owner.keyHash)})`);
    }
  }
  const block: Block = {
    version: BLOCK_VERSION,
    time: blockTime(now, updates.map((u) => u.parent.time)),
    entries: updates.map((u) => ({ token: u.parent.token, last: u.parent.id, nextKeyHash: u.nextKeyHash })),
  };
  const code = checkBlockStructure(block, []);
  if (code !== null && code !== 'missing-signature') throw new TokenBlockError('bad-token', `cannot build the block: ${code}`);
  const signers = new Map<number, Ed25519Signer>();
  block.entries.forEach((_e, i) => signers.set(i, owner.signer));
  return signBlock(crypto.blake3, networkId, block, signers);
}

/** The parent facts for `token` from a decoded parent block (its body as the daemon returned it). */
export function parentFromBlock(crypto: TokenCrypto, networkId: bigint, token: Uint8Array, parent: SignedBlock): TokenParent {
  const e = parent.block.entries.find((x) => bytesEqual(x.token, token));
  if (e === undefined) throw new TokenBlockError('parent-lacks-token', `block ${toHex(blockId(crypto.blake3, networkId, parent.block))} has no entry for token ${toHex(token)}`);
  return { token, id: blockId(crypto.blake3, networkId, parent.block), time: parent.block.time, nextKeyHash: e.nextKeyHash };
}

export function signedBlockHex(signed: SignedBlock): string {
  return toHex(encodeSignedBlock(signed));
}

export function blockIdHex(crypto: TokenCrypto, networkId: bigint, signed: SignedBlock | Block): string {
  return toHex(blockId(crypto.blake3, networkId, 'block' in signed ? signed.block : signed));
}

/** Decodes the hex of an encoded signed block (as the API returns it), or throws TokenBlockError. */
export function decodeSignedBlockHex(hex: string, what = 'block'): SignedBlock {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean) || clean.length > BLOCK_SIZES.maxSigned * 2) {
    throw new TokenBlockError('bad-block-file', `${what} is not the hex of an encoded signed block`);
  }
  const r = decodeSignedBlock(new Uint8Array(Buffer.from(clean, 'hex')));
  if (!r.ok) throw new TokenBlockError('bad-block-file', `${what} is not a well-formed signed block: ${r.code}`);
  return r.signed;
}

// ---------------------------------------------------------------------------------------------
// `ecd block submit FILE`

/** A parsed block file: either complete (`signed`) or needing a time and/or signatures. */
export type BlockFileContent =
  | { readonly kind: 'signed'; readonly signed: SignedBlock }
  | {
      readonly kind: 'draft';
      /** Null: choose max(now, parents + 1). */
      readonly time: number | null;
      readonly entries: readonly BlockEntry[];
      /** Null: sign every updating entry with the owner key. */
      readonly signatures: readonly BlockSignature[] | null;
    };

function blockFileField32(v: unknown, where: string, allowZeroShorthand: boolean): Uint8Array {
  if (allowZeroShorthand && (v === '0' || v === 0)) return new Uint8Array(32);
  const b = fromHex(v, 32);
  if (b === null) throw new TokenBlockError('bad-block-file', `${where} must be 32 bytes of hex${allowZeroShorthand ? ' or "0"' : ''}`);
  return b;
}

/** Parses a block file's text (JSON or hex; see the module comment). Never touches the network. */
export function parseBlockFile(crypto: TokenCrypto, text: string): BlockFileContent {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new TokenBlockError('bad-block-file', 'the block file is empty');
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return { kind: 'signed', signed: decodeSignedBlockHex(trimmed, 'the block file') };
  let v: unknown;
  try {
    v = JSON.parse(trimmed);
  } catch {
    throw new TokenBlockError('bad-block-file', 'the block file is neither hex nor valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TokenBlockError('bad-block-file', 'the block file is not a JSON object');
  const o = v as Record<string, unknown>;
  if (o['block'] !== undefined) {
    if (typeof o['block'] !== 'string') throw new TokenBlockError('bad-block-file', '"block" must be a hex string');
    if (o['entries'] !== undefined) throw new TokenBlockError('bad-block-file', 'give either "block" or "entries", not both');
    return { kind: 'signed', signed: decodeSignedBlockHex(o['block'], '"block"') };
  }
  const known = new Set(['time', 'entries', 'signatures', 'version']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new TokenBlockError('bad-block-file', `unknown field "${k}" (expected "block", or "time", "entries", "signatures")`);
  if (o['version'] !== undefined && o['version'] !== BLOCK_VERSION) throw new TokenBlockError('bad-block-file', `"version" must be ${BLOCK_VERSION}`);
  let time: number | null = null;
  if (o['time'] !== undefined) {
    const t = o['time'];
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) throw new TokenBlockError('bad-block-file', '"time" must be a non-negative integer of unix milliseconds');
    time = t;
  }
  const list = o['entries'];
  if (!Array.isArray(list) || list.length < 1 || list.length > BLOCK_MAX_ENTRIES) {
    throw new TokenBlockError('bad-block-file', `"entries" must be an array of 1..${BLOCK_MAX_ENTRIES} entries`);
  }
  const entries: BlockEntry[] = list.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TokenBlockError('bad-block-file', `entries[${i}] is not an object`);
    const e = raw as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!['token', 'last', 'next_key_hash', 'next_public_key'].includes(k)) throw new TokenBlockError('bad-block-file', `entries[${i}]: unknown field "${k}"`);
    }
    const token = blockFileField32(e['token'], `entries[${i}].token`, false);
    const last = blockFileField32(e['last'], `entries[${i}].last`, true);
    const hasHash = e['next_key_hash'] !== undefined;
    const hasPk = e['next_public_key'] !== undefined;
    if (hasHash === hasPk) throw new TokenBlockError('bad-block-file', `entries[${i}]: give exactly one of "next_key_hash" and "next_public_key"`);
    const nextKeyHash = hasHash
      ? blockFileField32(e['next_key_hash'], `entries[${i}].next_key_hash`, true)
      : keyHash(crypto.blake3, blockFileField32(e['next_public_key'], `entries[${i}].next_public_key`, false));
    return { token, last, nextKeyHash };
  });
  let signatures: BlockSignature[] | null = null;
  if (o['signatures'] !== undefined) {
    const sl = o['signatures'];
    if (!Array.isArray(sl)) throw new TokenBlockError('bad-block-file', '"signatures" must be an array');
    signatures = sl.map((raw, i) => {
      if (typeof raw !== 'object' || raw === null) throw new TokenBlockError('bad-block-file', `signatures[${i}] is not an object`);
      const s = raw as Record<string, unknown>;
      const index = s['index'];
      if (typeof index !== 'number' || !Number.isInteger(index)) throw new TokenBlockError('bad-block-file', `signatures[${i}].index must be an integer`);
      const publicKey = fromHex(s['public_key'], 32);
      if (publicKey === null) throw new TokenBlockError('bad-block-file', `signatures[${i}].public_key must be 32 bytes of hex`);
      const signature = fromHex(s['signature'], 64);
      if (signature === null) throw new TokenBlockError('bad-block-file', `signatures[${i}].signature must be 64 bytes of hex`);
      return { index, publicKey, signature };
    });
  }
  // Structure (distinct tokens, signature placement) is checked now, before any network access.
  const probe: Block = { version: BLOCK_VERSION, time: time ?? 0, entries };
  const code = checkBlockStructure(probe, signatures ?? []);
  if (code !== null && !(signatures === null && code === 'missing-signature')) {
    throw new TokenBlockError('bad-block-file', `the block is not well-formed: ${code}`);
  }
  return { kind: 'draft', time, entries, signatures };
}

/** True when some entry of the draft updates a token (needs a parent time and maybe a signature). */
export function draftNeedsParents(draft: Extract<BlockFileContent, { kind: 'draft' }>): boolean {
  return draft.entries.some((e) => !isZero(e.last));
}

/**
 * Completes a draft: time (given, or after every known parent time) and signatures (given, or
 * made with `owner` for every updating entry). Throws TokenBlockError('bad-key-file') when
 * signatures are needed and no owner key was given.
 */
export function completeDraft(
  crypto: TokenCrypto,
  networkId: bigint,
  draft: Extract<BlockFileContent, { kind: 'draft' }>,
  owner: OwnerKey | null,
  now: number,
  parentTimes: readonly number[],
): SignedBlock {
  const block: Block = { version: BLOCK_VERSION, time: draft.time ?? blockTime(now, parentTimes), entries: draft.entries };
  if (draft.signatures !== null) {
    const code = checkBlockStructure(block, draft.signatures);
    if (code !== null) throw new TokenBlockError('bad-block-file', `the block is not well-formed: ${code}`);
    return { block, signatures: draft.signatures };
  }
  if (!draftNeedsParents(draft)) return { block, signatures: [] };
  if (owner === null) throw new TokenBlockError('bad-key-file', 'the block updates a token and has no "signatures": give --key FILE to sign it');
  const signers = new Map<number, Ed25519Signer>();
  block.entries.forEach((e, i) => {
    if (!isZero(e.last)) signers.set(i, owner.signer);
  });
  return signBlock(crypto.blake3, networkId, block, signers);
}

/** The JSON form of a signed block (the readable block-file form with explicit signatures). */
export function signedBlockJson(signed: SignedBlock): Record<string, unknown> {
  return {
    time: signed.block.time,
    entries: signed.block.entries.map((e) => ({ token: toHex(e.token), last: toHex(e.last), next_key_hash: toHex(e.nextKeyHash) })),
    signatures: signed.signatures.map((s) => ({ index: s.index, public_key: toHex(s.publicKey), signature: toHex(s.signature) })),
  };
}

/** Reads a block file with the same size bound as every JSON input. */
export async function readBlockFile(path: string): Promise<string> {
  return readSmallText(path, 'bad-block-file', 'block file');
}
