/**
 * Evidence files: what `ecd evidence export` writes and `ecd evidence verify` checks offline.
 * Self-contained and versioned; integers big-endian.
 *
 *   offset  size  field
 *        0     4  magic "ECEV"
 *        4     1  version = 1
 *        5     1  kind: 1 fraud proof, 2 evidence bundle
 *        6     8  network id                (every signature inside is bound to it)
 *       14     …  body
 *
 *   fraud proof body:
 *     predicate u8 (1 fork, 2 rollback, 3 double mapping)
 *     identity length u16 (0 or 130) ‖ the culprit's identity record
 *     length u16 ‖ statement A ‖ length u16 ‖ statement B      (wire/msg-answer.ts statements)
 *
 *   evidence bundle body:
 *     count u16 ‖ count × identity record (130 bytes each)
 *     count u32 ‖ count × (length u16 ‖ statement)
 *     count u32 ‖ count × (length u16 ‖ signed block)          (the blocks the statements name, when known)
 *
 * Decoding checks every length against its cap before reading and never throws; the contents
 * (signatures, identities, predicates) are checked by the caller (tools/commands/evidence.ts).
 */
import { decodeIdentity, IDENTITY_SIZES, type IdentityRecord } from './identity.js';
import { encodeIdentity } from './identity.js';
import { decodeSignedBlock, encodeSignedBlock, type SignedBlock } from './block.js';
import { FRAUD_PREDICATE_CODES, MAX_STATEMENT_BYTES, statementSize, type FraudPredicate } from './msg-answer.js';

export const EVIDENCE_FILE_MAGIC = new Uint8Array([0x45, 0x43, 0x45, 0x56]); // "ECEV"
export const EVIDENCE_FILE_VERSION = 1;
export const EVIDENCE_FILE_HEADER = 14;

export const EVIDENCE_FILE_LIMITS = {
  /** Largest file `verify` reads. */
  maxFileBytes: 64 * 1024 * 1024,
  maxIdentities: 4_096,
  maxStatements: 100_000,
  maxBlocks: 100_000,
  /** A signed block with 6 entries and 6 signatures is 1 169 bytes. */
  maxBlockBytes: 2_048,
} as const;

export interface FraudProofFile {
  readonly kind: 'fraud-proof';
  readonly networkId: bigint;
  readonly predicate: FraudPredicate;
  /** The culprit's identity record, when the writer knew it. */
  readonly identity: IdentityRecord | null;
  readonly a: Uint8Array;
  readonly b: Uint8Array;
}

export interface EvidenceBundleFile {
  readonly kind: 'bundle';
  readonly networkId: bigint;
  readonly identities: readonly IdentityRecord[];
  readonly statements: readonly Uint8Array[];
  readonly blocks: readonly SignedBlock[];
}

export type EvidenceFile = FraudProofFile | EvidenceBundleFile;

export type EvidenceFileDecode = { readonly ok: true; readonly file: EvidenceFile } | { readonly ok: false; readonly reason: string };

const PREDICATE_BY_CODE: readonly (FraudPredicate | undefined)[] = [undefined, 'fork', 'rollback', 'double-mapping'];

class Out {
  readonly parts: Uint8Array[] = [];
  bytes(b: Uint8Array): void {
    this.parts.push(b);
  }
  u8(v: number): void {
    this.parts.push(Uint8Array.of(v));
  }
  u16(v: number): void {
    this.parts.push(Uint8Array.of(v >>> 8, v & 0xff));
  }
  u32(v: number): void {
    this.parts.push(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  }
  lengthPrefixed(b: Uint8Array): void {
    this.u16(b.length);
    this.bytes(b);
  }
  header(kind: number, networkId: bigint): void {
    this.bytes(EVIDENCE_FILE_MAGIC);
    this.u8(EVIDENCE_FILE_VERSION);
    this.u8(kind);
    const n = new Uint8Array(8);
    new DataView(n.buffer).setBigUint64(0, networkId);
    this.bytes(n);
  }
  done(): Uint8Array {
    const total = this.parts.reduce((s, p) => s + p.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function checkStatementLength(s: Uint8Array, what: string): void {
  if (s.length < statementSize(0) || s.length > MAX_STATEMENT_BYTES) throw new RangeError(`${what} is ${s.length} bytes, not a statement`);
}

export function encodeFraudProofFile(f: Omit<FraudProofFile, 'kind'>): Uint8Array {
  checkStatementLength(f.a, 'statement A');
  checkStatementLength(f.b, 'statement B');
  const o = new Out();
  o.header(1, f.networkId);
  o.u8(FRAUD_PREDICATE_CODES[f.predicate]);
  if (f.identity === null) o.u16(0);
  else o.lengthPrefixed(encodeIdentity(f.identity));
  o.lengthPrefixed(f.a);
  o.lengthPrefixed(f.b);
  return o.done();
}

export function encodeEvidenceBundle(f: Omit<EvidenceBundleFile, 'kind'>): Uint8Array {
  const L = EVIDENCE_FILE_LIMITS;
  if (f.identities.length > L.maxIdentities || f.statements.length > L.maxStatements || f.blocks.length > L.maxBlocks) {
    throw new RangeError(`a bundle holds at most ${L.maxIdentities} identities, ${L.maxStatements} statements and ${L.maxBlocks} blocks`);
  }
  const o = new Out();
  o.header(2, f.networkId);
  o.u16(f.identities.length);
  for (const r of f.identities) o.bytes(encodeIdentity(r));
  o.u32(f.statements.length);
  for (const s of f.statements) {
    checkStatementLength(s, 'a statement');
    o.lengthPrefixed(s);
  }
  o.u32(f.blocks.length);
  for (const b of f.blocks) o.lengthPrefixed(encodeSignedBlock(b));
  return o.done();
}

class Stop extends Error {}

class In {
  private off = 0;
  constructor(private readonly b: Uint8Array) {}
  get remaining(): number {
    return this.b.length - this.off;
  }
  take(n: number, what: string): Uint8Array {
    if (n > this.remaining) throw new Stop(`truncated at ${what} (offset ${this.off})`);
    const v = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  u8(what: string): number {
    return this.take(1, what)[0]!;
  }
  u16(what: string): number {
    const v = this.take(2, what);
    return (v[0]! << 8) | v[1]!;
  }
  u32(what: string): number {
    const v = this.take(4, what);
    return ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0;
  }
  count(max: number, minItem: number, what: string, wide: boolean): number {
    const n = wide ? this.u32(`${what} count`) : this.u16(`${what} count`);
    if (n > max) throw new Stop(`${n} ${what} exceed the cap of ${max}`);
    if (n * minItem > this.remaining) throw new Stop(`${what} count ${n} exceeds the file`);
    return n;
  }
  statement(what: string): Uint8Array {
    const n = this.u16(`${what} length`);
    if (n < statementSize(0) || n > MAX_STATEMENT_BYTES) throw new Stop(`${what} length ${n} is not a statement's`);
    return Uint8Array.from(this.take(n, what));
  }
}

function identity(bytes: Uint8Array, what: string): IdentityRecord {
  const d = decodeIdentity(Uint8Array.from(bytes));
  if (!d.ok) throw new Stop(`${what}: ${d.reason}`);
  return d.record;
}

/** Decodes an evidence file; never throws. Contents are not verified here. */
export function decodeEvidenceFile(bytes: Uint8Array): EvidenceFileDecode {
  try {
    if (bytes.length > EVIDENCE_FILE_LIMITS.maxFileBytes) throw new Stop(`the file is over ${EVIDENCE_FILE_LIMITS.maxFileBytes} bytes`);
    const r = new In(bytes);
    const magic = r.take(4, 'magic');
    if (!magic.every((v, i) => v === EVIDENCE_FILE_MAGIC[i])) throw new Stop('not an ecd evidence file (bad magic)');
    const version = r.u8('version');
    if (version !== EVIDENCE_FILE_VERSION) throw new Stop(`unsupported evidence file version ${version}`);
    const kind = r.u8('kind');
    const networkId = new DataView(r.take(8, 'network id').slice().buffer).getBigUint64(0);
    let file: EvidenceFile;
    if (kind === 1) {
      const predicate = PREDICATE_BY_CODE[r.u8('predicate')];
      if (predicate === undefined) throw new Stop('unknown predicate');
      const idLen = r.u16('identity length');
      if (idLen !== 0 && idLen !== IDENTITY_SIZES.record) throw new Stop(`identity length ${idLen} is neither 0 nor ${IDENTITY_SIZES.record}`);
      const rec = idLen === 0 ? null : identity(r.take(idLen, 'identity'), 'identity');
      const a = r.statement('statement A');
      const b = r.statement('statement B');
      file = { kind: 'fraud-proof', networkId, predicate, identity: rec, a, b };
    } else if (kind === 2) {
      const L = EVIDENCE_FILE_LIMITS;
      const ni = r.count(L.maxIdentities, IDENTITY_SIZES.record, 'identities', false);
      const identities: IdentityRecord[] = [];
      for (let i = 0; i < ni; i++) identities.push(identity(r.take(IDENTITY_SIZES.record, `identity ${i}`), `identity ${i}`));
      const ns = r.count(L.maxStatements, 2 + statementSize(0), 'statements', true);
      const statements: Uint8Array[] = [];
      for (let i = 0; i < ns; i++) statements.push(r.statement(`statement ${i}`));
      const nb = r.count(L.maxBlocks, 2, 'blocks', true);
      const blocks: SignedBlock[] = [];
      for (let i = 0; i < nb; i++) {
        const n = r.u16(`block ${i} length`);
        if (n > L.maxBlockBytes) throw new Stop(`block ${i} is ${n} bytes, over ${L.maxBlockBytes}`);
        const d = decodeSignedBlock(Uint8Array.from(r.take(n, `block ${i}`)));
        if (!d.ok) throw new Stop(`block ${i} is malformed (${d.code})`);
        blocks.push(d.signed);
      }
      file = { kind: 'bundle', networkId, identities, statements, blocks };
    } else {
      throw new Stop(`unknown evidence file kind ${kind}`);
    }
    if (r.remaining !== 0) throw new Stop(`${r.remaining} trailing bytes`);
    return { ok: true, file };
  } catch (err) {
    if (err instanceof Stop) return { ok: false, reason: err.message };
    throw err;
  }
}
