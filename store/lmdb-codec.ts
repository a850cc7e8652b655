/**
 * Fixed binary layouts of the LMDB store's keys and values (PROTOCOL §6). Every integer is
 * big-endian; every id is 32 bytes. No msgpack: each value is a handful of fixed-size fields, so
 * an explicit layout is smaller, faster and cannot drift with a serializer's version.
 *
 *   db        key                         value
 *   tokens    token 32                    block 32 ‖ parent 32 ‖ time u64 ‖ seq u64 ‖ source u8   (81 B)
 *   blocks    block id 32                 seq u64 ‖ signed block (wire/block.ts)             (≤ 1 177 B)
 *   commits   seq u64                     id 32 ‖ prev id 32 ‖ time u64 ‖ count u32 ‖ count × block id 32
 *   spends    token 32 ‖ last 32          block id 32
 *   meta      ASCII name                  per name: schema u32, network u64, head = seq u64 ‖ id 32
 *
 * Decoders return fresh Uint8Arrays (never views into LMDB's reused read buffer) and throw
 * StoreCorruptError when a stored value does not have its layout: the store wrote it, so a bad
 * value means a damaged file, not bad input.
 */
import type { BlockSignature, CommitRecord, Block } from '../wire/block.js';
import { decodeSignedBlock, encodeSignedBlock } from '../wire/block.js';
import type { CommitHead, MappingSource, StoredBlock, TokenMapping } from './types.js';

/** Largest number of block ids one commit record may list (the core's default is 32). */
export const MAX_BLOCKS_PER_COMMIT_RECORD = 4_096;

export const VALUE_SIZES = {
  token: 81,
  blockPrefix: 8,
  commitFixed: 32 + 32 + 8 + 4,
  spend: 32,
  head: 40,
  schema: 4,
  network: 8,
} as const;

export const TOKEN_VALUE_OFFSETS = { block: 0, parent: 32, time: 64, seq: 72, source: 80 } as const;
export const COMMIT_VALUE_OFFSETS = { id: 0, prevId: 32, time: 64, count: 72, blockIds: 76 } as const;

const SOURCE_CODES: Readonly<Record<MappingSource, number>> = { vote: 0, sync: 1 };

export class StoreCorruptError extends Error {
  readonly code = 'corrupt' as const;
  readonly db: string;
  constructor(db: string, message: string) {
    super(`store ${db}: ${message}`);
    this.name = 'StoreCorruptError';
    this.db = db;
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function writeU64(out: Uint8Array, offset: number, value: number): void {
  view(out).setBigUint64(offset, BigInt(value), false);
}

function readU64(bytes: Uint8Array, offset: number, db: string): number {
  const v = view(bytes).getBigUint64(offset, false);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new StoreCorruptError(db, 'integer above 2^53 − 1');
  return Number(v);
}

/** Throws RangeError unless `b` is a Uint8Array of `len` bytes (a caller bug; checked before any write). */
export function expectBytes(b: unknown, len: number, what: string): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== len) throw new RangeError(`${what} must be ${len} bytes`);
}

export function expectU64(n: unknown, what: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a safe non-negative integer`);
}

/** A copy of `b` as a plain Uint8Array (LMDB hands out Buffers, often views of a reused buffer). */
export function plain(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(b.subarray(start, end));
  return out;
}

// --- seq keys -----------------------------------------------------------------------------------

export function seqKey(seq: number): Uint8Array {
  const k = new Uint8Array(8);
  writeU64(k, 0, seq);
  return k;
}

export function readSeqKey(k: Uint8Array): number {
  if (k.length !== 8) throw new StoreCorruptError('commits', `key of ${k.length} bytes`);
  return readU64(k, 0, 'commits');
}

// --- tokens -------------------------------------------------------------------------------------

export function encodeTokenValue(m: TokenMapping): Uint8Array {
  expectBytes(m.block, 32, 'mapping block');
  expectBytes(m.parent, 32, 'mapping parent');
  expectU64(m.time, 'mapping time');
  expectU64(m.seq, 'mapping seq');
  const source = SOURCE_CODES[m.source];
  if (source === undefined) throw new RangeError(`unknown mapping source ${String(m.source)}`);
  const out = new Uint8Array(VALUE_SIZES.token);
  out.set(m.block, TOKEN_VALUE_OFFSETS.block);
  out.set(m.parent, TOKEN_VALUE_OFFSETS.parent);
  writeU64(out, TOKEN_VALUE_OFFSETS.time, m.time);
  writeU64(out, TOKEN_VALUE_OFFSETS.seq, m.seq);
  out[TOKEN_VALUE_OFFSETS.source] = source;
  return out;
}

export function decodeTokenValue(v: Uint8Array): TokenMapping {
  if (v.length !== VALUE_SIZES.token) throw new StoreCorruptError('tokens', `value of ${v.length} bytes`);
  const s = v[TOKEN_VALUE_OFFSETS.source];
  const source: MappingSource | undefined = s === 0 ? 'vote' : s === 1 ? 'sync' : undefined;
  if (source === undefined) throw new StoreCorruptError('tokens', `unknown source ${s}`);
  return {
    block: plain(v, 0, 32),
    parent: plain(v, 32, 64),
    time: readU64(v, TOKEN_VALUE_OFFSETS.time, 'tokens'),
    seq: readU64(v, TOKEN_VALUE_OFFSETS.seq, 'tokens'),
    source,
  };
}

// --- blocks -------------------------------------------------------------------------------------

/** Throws RangeError for a structurally malformed block (wire/block.ts checkBlockStructure). */
export function encodeBlockValue(b: StoredBlock): Uint8Array {
  expectU64(b.seq, 'block seq');
  const signed = encodeSignedBlock({ block: b.block, signatures: b.signatures });
  const out = new Uint8Array(VALUE_SIZES.blockPrefix + signed.length);
  writeU64(out, 0, b.seq);
  out.set(signed, VALUE_SIZES.blockPrefix);
  return out;
}

export function decodeBlockValue(id: Uint8Array, v: Uint8Array): StoredBlock {
  if (v.length < VALUE_SIZES.blockPrefix) throw new StoreCorruptError('blocks', `value of ${v.length} bytes`);
  const seq = readU64(v, 0, 'blocks');
  // A plain Uint8Array view, so the decoder's slices are plain copies (Buffer#slice would alias).
  const body = new Uint8Array(v.buffer, v.byteOffset + VALUE_SIZES.blockPrefix, v.length - VALUE_SIZES.blockPrefix);
  const r = decodeSignedBlock(body);
  if (!r.ok) throw new StoreCorruptError('blocks', `stored block does not decode: ${r.code}`);
  const block: Block = r.signed.block;
  const signatures: readonly BlockSignature[] = r.signed.signatures;
  return { id: plain(id), block, signatures, seq };
}

// --- commits ------------------------------------------------------------------------------------

export function encodeCommitValue(c: CommitRecord): Uint8Array {
  expectU64(c.seq, 'commit seq');
  expectU64(c.time, 'commit time');
  expectBytes(c.id, 32, 'commit id');
  expectBytes(c.prevId, 32, 'commit prev id');
  const n = c.blockIds.length;
  if (n > MAX_BLOCKS_PER_COMMIT_RECORD) throw new RangeError(`commit ${c.seq} lists ${n} blocks, above ${MAX_BLOCKS_PER_COMMIT_RECORD}`);
  const out = new Uint8Array(VALUE_SIZES.commitFixed + 32 * n);
  out.set(c.id, COMMIT_VALUE_OFFSETS.id);
  out.set(c.prevId, COMMIT_VALUE_OFFSETS.prevId);
  writeU64(out, COMMIT_VALUE_OFFSETS.time, c.time);
  view(out).setUint32(COMMIT_VALUE_OFFSETS.count, n, false);
  let o: number = COMMIT_VALUE_OFFSETS.blockIds;
  for (const id of c.blockIds) {
    expectBytes(id, 32, 'commit block id');
    out.set(id, o);
    o += 32;
  }
  return out;
}

export function decodeCommitValue(seq: number, v: Uint8Array): CommitRecord {
  if (v.length < VALUE_SIZES.commitFixed) throw new StoreCorruptError('commits', `value of ${v.length} bytes`);
  const n = view(v).getUint32(COMMIT_VALUE_OFFSETS.count, false);
  if (n > MAX_BLOCKS_PER_COMMIT_RECORD || v.length !== VALUE_SIZES.commitFixed + 32 * n) {
    throw new StoreCorruptError('commits', `record ${seq}: ${v.length} bytes for ${n} block ids`);
  }
  const blockIds: Uint8Array[] = [];
  for (let i = 0, o = COMMIT_VALUE_OFFSETS.blockIds; i < n; i++, o += 32) blockIds.push(plain(v, o, o + 32));
  return {
    seq,
    prevId: plain(v, COMMIT_VALUE_OFFSETS.prevId, COMMIT_VALUE_OFFSETS.prevId + 32),
    time: readU64(v, COMMIT_VALUE_OFFSETS.time, 'commits'),
    blockIds,
    id: plain(v, COMMIT_VALUE_OFFSETS.id, COMMIT_VALUE_OFFSETS.id + 32),
  };
}

// --- spends -------------------------------------------------------------------------------------

export function spendKey(token: Uint8Array, last: Uint8Array): Uint8Array {
  expectBytes(token, 32, 'spend token');
  expectBytes(last, 32, 'spend last');
  const k = new Uint8Array(64);
  k.set(token, 0);
  k.set(last, 32);
  return k;
}

// --- meta ---------------------------------------------------------------------------------------

export const META_KEYS = {
  schema: new TextEncoder().encode('schema'),
  network: new TextEncoder().encode('network'),
  head: new TextEncoder().encode('head'),
} as const;

export function encodeU32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  view(out).setUint32(0, n, false);
  return out;
}

export function decodeU32(v: Uint8Array, what: string): number {
  if (v.length !== 4) throw new StoreCorruptError('meta', `${what} of ${v.length} bytes`);
  return view(v).getUint32(0, false);
}

export function encodeNetworkId(id: bigint): Uint8Array {
  if (id < 0n || id >= 1n << 64n) throw new RangeError('network id must fit a u64');
  const out = new Uint8Array(8);
  view(out).setBigUint64(0, id, false);
  return out;
}

export function decodeNetworkId(v: Uint8Array): bigint {
  if (v.length !== 8) throw new StoreCorruptError('meta', `network id of ${v.length} bytes`);
  return view(v).getBigUint64(0, false);
}

export function encodeHead(h: CommitHead): Uint8Array {
  const out = new Uint8Array(VALUE_SIZES.head);
  writeU64(out, 0, h.seq);
  out.set(h.id, 8);
  return out;
}

export function decodeHead(v: Uint8Array): CommitHead {
  if (v.length !== VALUE_SIZES.head) throw new StoreCorruptError('meta', `head of ${v.length} bytes`);
  return { seq: readU64(v, 0, 'meta'), id: plain(v, 8, 40) };
}

// ---------------------------------------------------------------------------------------------
// evidence (store/evidence.ts), one db, keys by prefix:
//
//   's' ‖ responder 32 ‖ arrival u64    received-at u64 ‖ statement (wire/msg-answer.ts)
//   'i' ‖ responder 32                  identity record (130 B)
//   'p' ‖ proof id 32                   source u8 ‖ found-at u64 ‖ predicate u8 ‖ length A u16 ‖ A ‖ B

export const EVIDENCE_KEY_PREFIX = { statement: 0x73, identity: 0x69, proof: 0x70 } as const;
const PROOF_SOURCES = ['local', 'gossip', 'submitted'] as const;
const PROOF_PREDICATES = ['fork', 'rollback', 'double-mapping'] as const;

export function evidenceKey(prefix: number, id: Uint8Array, arrival?: number): Uint8Array {
  const out = new Uint8Array(1 + 32 + (arrival === undefined ? 0 : 8));
  out[0] = prefix;
  out.set(id, 1);
  if (arrival !== undefined) writeU64(out, 33, arrival);
  return out;
}

export function readEvidenceKey(k: Uint8Array): { prefix: number; id: Uint8Array; arrival: number } {
  if (k.length !== 33 && k.length !== 41) throw new StoreCorruptError('evidence', `key of ${k.length} bytes`);
  return { prefix: k[0] as number, id: k.slice(1, 33), arrival: k.length === 41 ? readU64(k, 33, 'evidence') : 0 };
}

export function encodeKeptStatement(at: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + bytes.length);
  writeU64(out, 0, at);
  out.set(bytes, 8);
  return out;
}

export function decodeKeptStatement(v: Uint8Array): { at: number; bytes: Uint8Array } {
  if (v.length < 8 + 1) throw new StoreCorruptError('evidence', `statement value of ${v.length} bytes`);
  return { at: readU64(v, 0, 'evidence'), bytes: v.slice(8) };
}

export interface ProofValue {
  readonly source: (typeof PROOF_SOURCES)[number];
  readonly foundAt: number;
  readonly predicate: (typeof PROOF_PREDICATES)[number];
  readonly a: Uint8Array;
  readonly b: Uint8Array;
}

export function encodeProofValue(p: ProofValue): Uint8Array {
  const out = new Uint8Array(1 + 8 + 1 + 2 + p.a.length + p.b.length);
  out[0] = PROOF_SOURCES.indexOf(p.source);
  writeU64(out, 1, p.foundAt);
  out[9] = PROOF_PREDICATES.indexOf(p.predicate);
  view(out).setUint16(10, p.a.length, false);
  out.set(p.a, 12);
  out.set(p.b, 12 + p.a.length);
  return out;
}

export function decodeProofValue(v: Uint8Array): ProofValue {
  if (v.length < 12) throw new StoreCorruptError('evidence', `proof value of ${v.length} bytes`);
  const source = PROOF_SOURCES[v[0] as number];
  const predicate = PROOF_PREDICATES[v[9] as number];
  const la = view(v).getUint16(10, false);
  if (source === undefined || predicate === undefined || 12 + la > v.length) throw new StoreCorruptError('evidence', 'malformed proof value');
  return { source, foundAt: readU64(v, 1, 'evidence'), predicate, a: v.slice(12, 12 + la), b: v.slice(12 + la) };
}
