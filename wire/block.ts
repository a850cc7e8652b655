/**
 * Blocks (PROTOCOL §4) and commit records (§6): typed values, their exact canonical bytes, ids
 * and signatures. Pure: every hash and signature check goes through the injected kernels.
 *
 * Block, version 1 — 10 + 96·n bytes, n = entry count (1..6), integers big-endian:
 *
 *   offset      size field
 *        0         1 version          = 1
 *        1         8 time             u64 unix milliseconds
 *        9         1 entry count n    1..6
 *   10+96·i       32 token            entry i
 *   42+96·i       32 last             block id this entry extends; 0 creates the token
 *   74+96·i       32 next_key_hash    BLAKE3(pk) allowed to sign the next update; 0 = final
 *
 *   block id = BLAKE3("ec/block/v1" ‖ network_id_be64 ‖ block bytes)
 *
 * Signatures travel beside the block, one per entry with last ≠ 0, in increasing entry order:
 *
 *   signed block = block bytes ‖ signature count u8 ‖ count × (entry index u8 ‖ pk 32 ‖ sig 64)
 *   signature    = Ed25519 over "ec/block-sig/v1" ‖ block id
 *
 * A 6-entry block with six signatures is 586 + 1 + 582 = 1 169 bytes.
 *
 * Commit record (§6), hashed, never sent alone:
 *
 *   commit id = BLAKE3("ec/commit/v1" ‖ seq u64 ‖ prev id 32 ‖ time u64 ‖ block ids 32·k)
 *
 * Times above 2^53 − 1 do not fit a JS number exactly; decoders reject them as malformed.
 */
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../kernels/types.js';

export const BLOCK_VERSION = 1;
export const BLOCK_MIN_ENTRIES = 1;
export const BLOCK_MAX_ENTRIES = 6;

export const BLOCK_OFFSETS = {
  version: 0,
  time: 1,
  count: 9,
  entries: 10,
} as const;

/** Offsets inside one 96-byte entry. */
export const ENTRY_OFFSETS = {
  token: 0,
  last: 32,
  nextKeyHash: 64,
} as const;

export const BLOCK_SIZES = {
  header: 10,
  entry: 96,
  hash: 32,
  id: 32,
  publicKey: 32,
  signature: 64,
  /** index u8 ‖ pk ‖ sig */
  signatureItem: 97,
  minBlock: 10 + 96,
  maxBlock: 10 + 96 * 6,
  minSigned: 10 + 96 + 1,
  maxSigned: 10 + 96 * 6 + 1 + 97 * 6,
} as const;

const utf8 = new TextEncoder();
export const DOMAIN_BLOCK_ID = utf8.encode('ec/block/v1');
export const DOMAIN_BLOCK_SIG = utf8.encode('ec/block-sig/v1');
export const DOMAIN_COMMIT_ID = utf8.encode('ec/commit/v1');

export const ZERO_ID: Uint8Array = new Uint8Array(32);

export interface BlockEntry {
  readonly token: Uint8Array;
  /** Id of the block this entry extends; all-zero creates the token. */
  readonly last: Uint8Array;
  /** BLAKE3(pk) of the key allowed to sign the next update; all-zero makes the token final. */
  readonly nextKeyHash: Uint8Array;
}

export interface Block {
  readonly version: number;
  /** Unix milliseconds. */
  readonly time: number;
  readonly entries: readonly BlockEntry[];
}

export interface BlockSignature {
  /** Index of the entry this signature authorises (an entry with last ≠ 0). */
  readonly index: number;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

export interface SignedBlock {
  readonly block: Block;
  /** Sorted by entry index, exactly one per entry with last ≠ 0. */
  readonly signatures: readonly BlockSignature[];
}

/** Why bytes or a typed block are not a well-formed block. */
export type BlockFormatCode =
  | 'short'
  | 'long'
  | 'bad-version'
  | 'bad-count'
  | 'bad-time'
  | 'bad-field-length'
  | 'duplicate-token'
  | 'bad-signature-count'
  | 'bad-signature-index'
  | 'signature-for-creation'
  | 'missing-signature';

export type DecodeBlockResult =
  | { readonly ok: true; readonly block: Block }
  | { readonly ok: false; readonly code: BlockFormatCode };

export type DecodeSignedBlockResult =
  | { readonly ok: true; readonly signed: SignedBlock }
  | { readonly ok: false; readonly code: BlockFormatCode };

export function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Big-endian unsigned compare of two equal-length byte strings (ring order, conflict order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function isU8Array(x: unknown, len: number): x is Uint8Array {
  return x instanceof Uint8Array && x.length === len;
}

function writeU64(out: Uint8Array, offset: number, value: number | bigint): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(offset, BigInt(value), false);
}

function readU64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, false);
}

/**
 * Structural validity of a typed block and its signatures, independent of any other block:
 * version, 1..6 entries, 32-byte fields, a safe non-negative integer time, distinct tokens, and
 * signatures sorted by index with exactly one per entry that has last ≠ 0 (creation entries carry
 * none). Returns null when well-formed. Never throws.
 */
export function checkBlockStructure(block: Block, signatures: readonly BlockSignature[]): BlockFormatCode | null {
  if (block.version !== BLOCK_VERSION) return 'bad-version';
  const n = block.entries.length;
  if (!Number.isInteger(n) || n < BLOCK_MIN_ENTRIES || n > BLOCK_MAX_ENTRIES) return 'bad-count';
  if (!Number.isSafeInteger(block.time) || block.time < 0) return 'bad-time';
  for (let i = 0; i < n; i++) {
    const e = block.entries[i] as BlockEntry;
    if (!isU8Array(e.token, 32) || !isU8Array(e.last, 32) || !isU8Array(e.nextKeyHash, 32)) return 'bad-field-length';
    for (let j = 0; j < i; j++) if (bytesEqual((block.entries[j] as BlockEntry).token, e.token)) return 'duplicate-token';
  }
  if (signatures.length > n) return 'bad-signature-count';
  let prev = -1;
  for (const s of signatures) {
    if (!Number.isInteger(s.index) || s.index <= prev || s.index >= n) return 'bad-signature-index';
    if (!isU8Array(s.publicKey, 32) || !isU8Array(s.signature, 64)) return 'bad-field-length';
    if (isZero((block.entries[s.index] as BlockEntry).last)) return 'signature-for-creation';
    prev = s.index;
  }
  let updates = 0;
  for (const e of block.entries) if (!isZero(e.last)) updates++;
  if (updates !== signatures.length) return 'missing-signature';
  return null;
}

export function encodedBlockSize(block: Block): number {
  return BLOCK_SIZES.header + BLOCK_SIZES.entry * block.entries.length;
}

export function encodedSignedBlockSize(signed: SignedBlock): number {
  return encodedBlockSize(signed.block) + 1 + BLOCK_SIZES.signatureItem * signed.signatures.length;
}

function writeBlock(out: Uint8Array, block: Block): number {
  out[BLOCK_OFFSETS.version] = block.version;
  writeU64(out, BLOCK_OFFSETS.time, block.time);
  out[BLOCK_OFFSETS.count] = block.entries.length;
  let o = BLOCK_OFFSETS.entries;
  for (const e of block.entries) {
    out.set(e.token, o + ENTRY_OFFSETS.token);
    out.set(e.last, o + ENTRY_OFFSETS.last);
    out.set(e.nextKeyHash, o + ENTRY_OFFSETS.nextKeyHash);
    o += BLOCK_SIZES.entry;
  }
  return o;
}

/** Canonical bytes of a block. Throws RangeError for a malformed typed value (a caller bug). */
export function encodeBlock(block: Block): Uint8Array {
  const code = checkBlockStructure(block, []);
  if (code !== null && code !== 'missing-signature') throw new RangeError(`cannot encode block: ${code}`);
  const out = new Uint8Array(encodedBlockSize(block));
  writeBlock(out, block);
  return out;
}

/** Block bytes ‖ signature count ‖ signatures. Throws RangeError for a malformed value. */
export function encodeSignedBlock(signed: SignedBlock): Uint8Array {
  const code = checkBlockStructure(signed.block, signed.signatures);
  if (code !== null) throw new RangeError(`cannot encode signed block: ${code}`);
  const out = new Uint8Array(encodedSignedBlockSize(signed));
  let o = writeBlock(out, signed.block);
  out[o++] = signed.signatures.length;
  for (const s of signed.signatures) {
    out[o] = s.index;
    out.set(s.publicKey, o + 1);
    out.set(s.signature, o + 33);
    o += BLOCK_SIZES.signatureItem;
  }
  return out;
}

/** Reads the block at the start of `bytes`; returns it and its length, or a format code. */
function readBlock(bytes: Uint8Array): { block: Block; end: number } | BlockFormatCode {
  if (bytes.length < BLOCK_SIZES.minBlock) return 'short';
  if (bytes[BLOCK_OFFSETS.version] !== BLOCK_VERSION) return 'bad-version';
  const n = bytes[BLOCK_OFFSETS.count] as number;
  if (n < BLOCK_MIN_ENTRIES || n > BLOCK_MAX_ENTRIES) return 'bad-count';
  const end = BLOCK_SIZES.header + BLOCK_SIZES.entry * n;
  if (bytes.length < end) return 'short';
  const time = readU64(bytes, BLOCK_OFFSETS.time);
  if (time > BigInt(Number.MAX_SAFE_INTEGER)) return 'bad-time';
  const entries: BlockEntry[] = [];
  let o: number = BLOCK_OFFSETS.entries;
  for (let i = 0; i < n; i++) {
    entries.push({
      token: bytes.slice(o + ENTRY_OFFSETS.token, o + ENTRY_OFFSETS.token + 32),
      last: bytes.slice(o + ENTRY_OFFSETS.last, o + ENTRY_OFFSETS.last + 32),
      nextKeyHash: bytes.slice(o + ENTRY_OFFSETS.nextKeyHash, o + ENTRY_OFFSETS.nextKeyHash + 32),
    });
    o += BLOCK_SIZES.entry;
  }
  return { block: { version: BLOCK_VERSION, time: Number(time), entries }, end };
}

/** Decodes exactly one unsigned block. Never throws. */
export function decodeBlock(bytes: Uint8Array): DecodeBlockResult {
  if (!(bytes instanceof Uint8Array)) return { ok: false, code: 'short' };
  if (bytes.length > BLOCK_SIZES.maxBlock) return { ok: false, code: 'long' };
  const r = readBlock(bytes);
  if (typeof r === 'string') return { ok: false, code: r };
  if (r.end !== bytes.length) return { ok: false, code: 'long' };
  const code = checkBlockStructure(r.block, []);
  if (code !== null && code !== 'missing-signature') return { ok: false, code };
  return { ok: true, block: r.block };
}

/** Decodes a signed block and checks its structure (`checkBlockStructure`). Never throws. */
export function decodeSignedBlock(bytes: Uint8Array): DecodeSignedBlockResult {
  if (!(bytes instanceof Uint8Array)) return { ok: false, code: 'short' };
  if (bytes.length > BLOCK_SIZES.maxSigned) return { ok: false, code: 'long' };
  const r = readBlock(bytes);
  if (typeof r === 'string') return { ok: false, code: r };
  let o = r.end;
  if (bytes.length < o + 1) return { ok: false, code: 'short' };
  const count = bytes[o++] as number;
  if (count > r.block.entries.length) return { ok: false, code: 'bad-signature-count' };
  const expected = o + count * BLOCK_SIZES.signatureItem;
  if (bytes.length < expected) return { ok: false, code: 'short' };
  if (bytes.length > expected) return { ok: false, code: 'long' };
  const signatures: BlockSignature[] = [];
  for (let i = 0; i < count; i++) {
    signatures.push({
      index: bytes[o] as number,
      publicKey: bytes.slice(o + 1, o + 33),
      signature: bytes.slice(o + 33, o + 97),
    });
    o += BLOCK_SIZES.signatureItem;
  }
  const signed: SignedBlock = { block: r.block, signatures };
  const code = checkBlockStructure(signed.block, signed.signatures);
  if (code !== null) return { ok: false, code };
  return { ok: true, signed };
}

function networkIdBytes(networkId: bigint): Uint8Array {
  const b = new Uint8Array(8);
  writeU64(b, 0, networkId);
  return b;
}

/** BLAKE3("ec/block/v1" ‖ network_id_be64 ‖ encoding). `block` may be the typed value or its canonical bytes. */
export function blockId(blake3: Blake3Kernel, networkId: bigint, block: Block | Uint8Array): Uint8Array {
  const enc = block instanceof Uint8Array ? block : encodeBlock(block);
  const msg = new Uint8Array(DOMAIN_BLOCK_ID.length + 8 + enc.length);
  msg.set(DOMAIN_BLOCK_ID, 0);
  msg.set(networkIdBytes(networkId), DOMAIN_BLOCK_ID.length);
  msg.set(enc, DOMAIN_BLOCK_ID.length + 8);
  return blake3.hash(msg);
}

/** The message every entry signature signs: "ec/block-sig/v1" ‖ id. */
export function blockSigningMessage(id: Uint8Array): Uint8Array {
  const msg = new Uint8Array(DOMAIN_BLOCK_SIG.length + 32);
  msg.set(DOMAIN_BLOCK_SIG, 0);
  msg.set(id, DOMAIN_BLOCK_SIG.length);
  return msg;
}

/** BLAKE3(pk): the value a parent's next_key_hash must hold for `pk` to sign the next update. */
export function keyHash(blake3: Blake3Kernel, publicKey: Uint8Array): Uint8Array {
  return blake3.hash(publicKey);
}

/**
 * Signs a block: one signature per updating entry, with the signer given for that entry index.
 * Throws RangeError if an updating entry has no signer (a caller bug).
 */
export function signBlock(
  blake3: Blake3Kernel,
  networkId: bigint,
  block: Block,
  signers: ReadonlyMap<number, Ed25519Signer>,
): SignedBlock {
  const id = blockId(blake3, networkId, block);
  const msg = blockSigningMessage(id);
  const signatures: BlockSignature[] = [];
  block.entries.forEach((e, index) => {
    if (isZero(e.last)) return;
    const signer = signers.get(index);
    if (signer === undefined) throw new RangeError(`no signer for entry ${index}`);
    signatures.push({ index, publicKey: signer.publicKey, signature: signer.sign(msg) });
  });
  return { block, signatures };
}

/** True when the signature verifies for `id` (the caller checks the key hash against the parent). */
export function verifyEntrySignature(ed25519: Ed25519Kernel, id: Uint8Array, sig: BlockSignature): boolean {
  return ed25519.verify(sig.signature, blockSigningMessage(id), sig.publicKey);
}

// ---------------------------------------------------------------------------------------------
// Commit records (PROTOCOL §6).

export interface CommitRecordFields {
  /** 1 for the first commit; the empty chain's head is seq 0 with an all-zero id. */
  readonly seq: number;
  readonly prevId: Uint8Array;
  /** Unix milliseconds of the tick that committed. */
  readonly time: number;
  readonly blockIds: readonly Uint8Array[];
}

export interface CommitRecord extends CommitRecordFields {
  readonly id: Uint8Array;
}

/** "ec/commit/v1" ‖ seq u64 ‖ prev id ‖ time u64 ‖ block ids — the bytes the commit id hashes. */
export function commitRecordBytes(r: CommitRecordFields): Uint8Array {
  const head = DOMAIN_COMMIT_ID.length;
  const out = new Uint8Array(head + 8 + 32 + 8 + 32 * r.blockIds.length);
  out.set(DOMAIN_COMMIT_ID, 0);
  writeU64(out, head, r.seq);
  out.set(r.prevId, head + 8);
  writeU64(out, head + 40, r.time);
  let o = head + 48;
  for (const id of r.blockIds) {
    out.set(id, o);
    o += 32;
  }
  return out;
}

export function commitRecordId(blake3: Blake3Kernel, r: CommitRecordFields): Uint8Array {
  return blake3.hash(commitRecordBytes(r));
}

export function makeCommitRecord(blake3: Blake3Kernel, r: CommitRecordFields): CommitRecord {
  return { ...r, id: commitRecordId(blake3, r) };
}
