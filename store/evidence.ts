/**
 * The evidence book (PROTOCOL §9): the signed statements a daemon, a client or a simulated owner
 * has received, kept per responder, each new one checked against the kept ones of the same
 * responder (consensus/fraud.ts), and the fraud proofs found or received.
 *
 * What is kept, and why it is enough:
 *  - Per responder and token at most 3 statements (3 × 641 B ≤ 2 KB): the one with the newest
 *    mapping claim (earliest head among equals: the best "A" of a rollback), the one with the
 *    highest head (the best "B", and the one a fork shows against), and the newest arrival.
 *  - Per responder at most 32 statements, oldest arrival evicted first; at most 1 024 responders,
 *    the one heard from longest ago evicted first.
 *  - Fraud proofs are separate records holding both statements whole, so evicting statements
 *    never loses a proof; at most one proof per culprit and predicate, 16 384 in all.
 * Eviction only ever costs detection, never a false proof: a proof needs two signed statements
 * that contradict each other, whatever else was kept.
 *
 * Pure of I/O: persistence goes through `takeWrites()` (the daemon writes them to LMDB in one
 * transaction per tick, store/lmdb.ts `evidenceWrite`) and `load()` at start. Statements given to
 * `add` must be well-formed and already signature-checked by the caller.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import { fraudBetween, responderOf } from '../consensus/fraud.js';
import { FRAUD_PREDICATE_CODES, STATEMENT_OFFSETS, decodeStatement, type FraudPredicate } from '../wire/msg-answer.js';
import { toHex } from '../consensus/hex.js';

export const EVIDENCE_LIMITS = {
  perResponderToken: 3,
  perResponder: 32,
  responders: 1_024,
  maxProofs: 16_384,
} as const;

export type EvidenceLimits = { readonly [K in keyof typeof EVIDENCE_LIMITS]: number };

const DOMAIN_PROOF_ID = new TextEncoder().encode('ec/fraud-proof/v1');

export interface KeptStatement {
  /** Book-wide arrival number (monotonic, persisted). */
  readonly arrival: number;
  /** Unix ms when it was received. */
  readonly at: number;
  readonly bytes: Uint8Array;
}

/** Found in our own evidence, received as FRAUD_PROOF from a peer, or handed in through the control API. */
export type ProofSource = 'local' | 'gossip' | 'submitted';

export interface ProofRecord {
  /** BLAKE3("ec/fraud-proof/v1" ‖ predicate ‖ A ‖ B), hex. */
  readonly id: string;
  readonly culprit: Uint8Array;
  readonly culpritHex: string;
  readonly predicate: FraudPredicate;
  readonly a: Uint8Array;
  readonly b: Uint8Array;
  /** Unix ms. */
  readonly foundAt: number;
  readonly source: ProofSource;
}

/** One persistence step; the LMDB store applies a list of them in one transaction. */
export type EvidenceWrite =
  | { readonly op: 'put-statement'; readonly responder: Uint8Array; readonly s: KeptStatement }
  | { readonly op: 'delete-statement'; readonly responder: Uint8Array; readonly arrival: number }
  | { readonly op: 'put-identity'; readonly responder: Uint8Array; readonly record: Uint8Array }
  | { readonly op: 'delete-identity'; readonly responder: Uint8Array }
  | { readonly op: 'put-proof'; readonly proof: ProofRecord };

/** What `load()` takes: everything a store kept. */
export interface EvidenceSnapshot {
  readonly statements: readonly { readonly responder: Uint8Array; readonly s: KeptStatement }[];
  readonly identities: readonly { readonly responder: Uint8Array; readonly record: Uint8Array }[];
  readonly proofs: readonly ProofRecord[];
}

export interface AddResult {
  /** A new proof the statement completed and the book kept (null when none, or not kept). */
  readonly proof: ProofRecord | null;
  /** The contradiction found, kept or not (the book may be full, or already hold one for the pair's culprit and predicate). */
  readonly fraud: { readonly predicate: FraudPredicate; readonly a: Uint8Array; readonly b: Uint8Array } | null;
  /** Statements evicted to make room. */
  readonly evicted: number;
}

interface Responder {
  readonly key: Uint8Array;
  /** In arrival order. */
  readonly statements: KeptStatement[];
  identity: Uint8Array | null;
}

function u64(b: Uint8Array, o: number): number {
  const v = new DataView(b.buffer, b.byteOffset + o, 8);
  return v.getUint32(0) * 2 ** 32 + v.getUint32(4);
}

function isZero32(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 32; i++) if (b[o + i] !== 0) return false;
  return true;
}

function sameToken(a: Uint8Array, b: Uint8Array): boolean {
  const o = STATEMENT_OFFSETS.token;
  for (let i = 0; i < 32; i++) if (a[o + i] !== b[o + i]) return false;
  return true;
}

/** The statement's mapping claim seq, −1 when it names no block. */
function mappingSeq(s: Uint8Array): number {
  return isZero32(s, STATEMENT_OFFSETS.mappingBlock) ? -1 : u64(s, STATEMENT_OFFSETS.mappingCommitSeq);
}

function headSeqOf(s: Uint8Array): number {
  const e = new DataView(s.buffer, s.byteOffset + STATEMENT_OFFSETS.evidenceCount, 4).getUint32(0);
  return u64(s, STATEMENT_OFFSETS.evidence + 72 * e);
}

/** The token a statement answers about, hex. */
export function statementToken(s: Uint8Array): Uint8Array {
  return s.subarray(STATEMENT_OFFSETS.token, STATEMENT_OFFSETS.token + 32);
}

/** Index in `group` of the statement to evict: the oldest that is none of the three kept roles. */
export function evictionInGroup(group: readonly KeptStatement[]): number {
  let newestClaim = 0;
  let highestHead = 0;
  let newest = 0;
  for (let i = 1; i < group.length; i++) {
    const s = (group[i] as KeptStatement).bytes;
    const c = (group[newestClaim] as KeptStatement).bytes;
    const ms = mappingSeq(s);
    const mc = mappingSeq(c);
    if (ms > mc || (ms === mc && headSeqOf(s) < headSeqOf(c))) newestClaim = i;
    if (headSeqOf(s) > headSeqOf((group[highestHead] as KeptStatement).bytes)) highestHead = i;
    if ((group[i] as KeptStatement).arrival > (group[newest] as KeptStatement).arrival) newest = i;
  }
  for (let i = 0; i < group.length; i++) if (i !== newestClaim && i !== highestHead && i !== newest) return i;
  return -1;
}

export class EvidenceBook {
  private readonly limits: EvidenceLimits;
  /** Responder key hex → kept evidence; Map order is least recently heard first. */
  private readonly byResponder = new Map<string, Responder>();
  private readonly proofsById = new Map<string, ProofRecord>();
  /** Culprit hex → predicates with a kept proof. */
  private readonly culprits = new Map<string, Set<FraudPredicate>>();
  private writes: EvidenceWrite[] = [];
  private nextArrival = 1;
  private statementCount = 0;
  /** Counters for metrics. */
  readonly counters = { added: 0, evicted: 0, checks: 0, proofsDropped: 0 };
  private readonly persist: boolean;

  constructor(
    private readonly blake3: Blake3Kernel,
    options: { readonly persist?: boolean; readonly limits?: Partial<EvidenceLimits> } = {},
  ) {
    this.limits = { ...EVIDENCE_LIMITS, ...options.limits };
    this.persist = options.persist ?? false;
  }

  get statements(): number {
    return this.statementCount;
  }

  get responderCount(): number {
    return this.byResponder.size;
  }

  /**
   * Keeps a verified statement and checks it against the responder's kept ones (and itself).
   * `identity` is the responder's identity record, when known.
   */
  add(bytes: Uint8Array, now: number, identity: Uint8Array | null = null): AddResult {
    const key = Uint8Array.from(responderOf(bytes));
    const k = toHex(key);
    let r = this.byResponder.get(k);
    if (r === undefined) r = { key, statements: [], identity: null };
    else this.byResponder.delete(k);
    this.byResponder.set(k, r);
    if (identity !== null && r.identity === null) {
      r.identity = Uint8Array.from(identity);
      this.write({ op: 'put-identity', responder: key, record: r.identity });
    }
    const s: KeptStatement = { arrival: this.nextArrival++, at: now, bytes: Uint8Array.from(bytes) };
    let proof: ProofRecord | null = null;
    let fraud: AddResult['fraud'] = null;
    this.counters.checks++;
    for (const other of [...r.statements, s]) {
      const p = fraudBetween(other.bytes, s.bytes);
      if (p === null) continue;
      fraud ??= { predicate: p, a: other.bytes, b: s.bytes };
      proof = this.addProof(p, other.bytes, s.bytes, now, 'local');
      if (proof !== null) break;
    }
    r.statements.push(s);
    this.statementCount++;
    this.counters.added++;
    this.write({ op: 'put-statement', responder: key, s });
    const evicted = this.evict(r, s) + this.evictResponders(k);
    return { proof, fraud, evicted };
  }

  /** Keeps a verified proof (the caller checked it); null when the culprit already has one for that predicate or the cap is reached. */
  addProof(predicate: FraudPredicate, a: Uint8Array, b: Uint8Array, now: number, source: ProofSource): ProofRecord | null {
    const known = this.culprits.get(toHex(responderOf(a)));
    if (known?.has(predicate) === true) return null;
    if (this.proofsById.size >= this.limits.maxProofs) {
      this.counters.proofsDropped++;
      return null;
    }
    const proof = proofRecord(this.blake3, predicate, a, b, now, source);
    this.keepProof(proof);
    this.write({ op: 'put-proof', proof });
    return proof;
  }

  private keepProof(proof: ProofRecord): void {
    this.proofsById.set(proof.id, proof);
    const set = this.culprits.get(proof.culpritHex) ?? new Set<FraudPredicate>();
    set.add(proof.predicate);
    this.culprits.set(proof.culpritHex, set);
  }

  isCulprit(publicKeyHex: string): boolean {
    return this.culprits.has(publicKeyHex);
  }

  proofs(): ProofRecord[] {
    return [...this.proofsById.values()];
  }

  proof(idOrPrefix: string): ProofRecord | undefined {
    const exact = this.proofsById.get(idOrPrefix);
    if (exact !== undefined) return exact;
    const matches = [...this.proofsById.values()].filter((p) => p.id.startsWith(idOrPrefix));
    return matches.length === 1 ? matches[0] : undefined;
  }

  identityOf(publicKeyHex: string): Uint8Array | null {
    return this.byResponder.get(publicKeyHex)?.identity ?? null;
  }

  /** Kept statements, optionally only about `token` and/or from `responder` (hex), in arrival order. */
  kept(filter: { readonly token?: Uint8Array; readonly responder?: string } = {}): { responder: string; s: KeptStatement }[] {
    const out: { responder: string; s: KeptStatement }[] = [];
    for (const [k, r] of this.byResponder) {
      if (filter.responder !== undefined && filter.responder !== k) continue;
      for (const s of r.statements) {
        if (filter.token !== undefined && !sameTokenAs(s.bytes, filter.token)) continue;
        out.push({ responder: k, s });
      }
    }
    return out.sort((x, y) => x.s.arrival - y.s.arrival);
  }

  /** The writes since the last call, in order; empty unless the book persists. */
  takeWrites(): EvidenceWrite[] {
    const w = this.writes;
    this.writes = [];
    return w;
  }

  /** Restores what a store kept (before any `add`); bounds apply as if it had arrived in order. */
  load(snapshot: EvidenceSnapshot): void {
    for (const p of snapshot.proofs) this.keepProof(p);
    const ids = new Map<string, Uint8Array>();
    for (const i of snapshot.identities) ids.set(toHex(i.responder), i.record);
    const sorted = [...snapshot.statements].sort((x, y) => x.s.arrival - y.s.arrival);
    for (const { responder, s } of sorted) {
      const k = toHex(responder);
      let r = this.byResponder.get(k);
      if (r === undefined) r = { key: Uint8Array.from(responder), statements: [], identity: ids.get(k) ?? null };
      else this.byResponder.delete(k);
      this.byResponder.set(k, r);
      r.statements.push(s);
      this.statementCount++;
      this.nextArrival = Math.max(this.nextArrival, s.arrival + 1);
      this.evict(r, s);
      this.evictResponders(k);
    }
    // Only deletions are pending now (statements over tighter bounds); the next flush writes them.
  }

  private write(w: EvidenceWrite): void {
    if (this.persist) this.writes.push(w);
  }

  /** Enforces the per-token and per-responder bounds after `s` joined `r`. */
  private evict(r: Responder, s: KeptStatement): number {
    let evicted = 0;
    const group = r.statements.filter((x) => sameToken(x.bytes, s.bytes));
    if (group.length > this.limits.perResponderToken) {
      const i = evictionInGroup(group);
      if (i >= 0) {
        this.drop(r, group[i] as KeptStatement);
        evicted++;
      }
    }
    while (r.statements.length > this.limits.perResponder) {
      this.drop(r, r.statements[0] as KeptStatement);
      evicted++;
    }
    return evicted;
  }

  private drop(r: Responder, s: KeptStatement): void {
    const i = r.statements.indexOf(s);
    if (i < 0) return;
    r.statements.splice(i, 1);
    this.statementCount--;
    this.counters.evicted++;
    this.write({ op: 'delete-statement', responder: r.key, arrival: s.arrival });
  }

  /** Evicts least recently heard responders (never `keep`) down to the bound. */
  private evictResponders(keep: string): number {
    let evicted = 0;
    for (const [k, r] of this.byResponder) {
      if (this.byResponder.size <= this.limits.responders) break;
      if (k === keep) continue;
      for (const s of [...r.statements]) {
        this.drop(r, s);
        evicted++;
      }
      if (r.identity !== null) this.write({ op: 'delete-identity', responder: r.key });
      this.byResponder.delete(k);
    }
    return evicted;
  }
}

function sameTokenAs(s: Uint8Array, token: Uint8Array): boolean {
  const o = STATEMENT_OFFSETS.token;
  for (let i = 0; i < 32; i++) if (s[o + i] !== token[i]) return false;
  return true;
}

/** BLAKE3("ec/fraud-proof/v1" ‖ predicate code ‖ A ‖ B): a proof's name in the book, the API and logs. */
export function proofId(blake3: Blake3Kernel, predicate: FraudPredicate, a: Uint8Array, b: Uint8Array): Uint8Array {
  const buf = new Uint8Array(DOMAIN_PROOF_ID.length + 1 + a.length + b.length);
  buf.set(DOMAIN_PROOF_ID, 0);
  buf[DOMAIN_PROOF_ID.length] = FRAUD_PREDICATE_CODES[predicate];
  buf.set(a, DOMAIN_PROOF_ID.length + 1);
  buf.set(b, DOMAIN_PROOF_ID.length + 1 + a.length);
  return blake3.hash(buf);
}

export function proofRecord(blake3: Blake3Kernel, predicate: FraudPredicate, a: Uint8Array, b: Uint8Array, foundAt: number, source: ProofSource): ProofRecord {
  const culprit = Uint8Array.from(responderOf(a));
  return { id: toHex(proofId(blake3, predicate, a, b)), culprit, culpritHex: toHex(culprit), predicate, a: Uint8Array.from(a), b: Uint8Array.from(b), foundAt, source };
}

/** What store/lmdb.ts `evidenceLoad` returned, as the book's snapshot (proof ids recomputed). */
export function snapshotFromStore(
  blake3: Blake3Kernel,
  raw: {
    readonly statements: EvidenceSnapshot['statements'];
    readonly identities: EvidenceSnapshot['identities'];
    readonly proofs: readonly { readonly source: ProofSource; readonly foundAt: number; readonly predicate: FraudPredicate; readonly a: Uint8Array; readonly b: Uint8Array }[];
  },
): EvidenceSnapshot {
  return { statements: raw.statements, identities: raw.identities, proofs: raw.proofs.map((p) => proofRecord(blake3, p.predicate, p.a, p.b, p.foundAt, p.source)) };
}

/** A statement for people and JSON: hex ids, numbers. Null fields when it does not decode. */
export function statementView(bytes: Uint8Array): Record<string, unknown> {
  const d = decodeStatement(bytes);
  if (!d.ok) return { malformed: `${d.field}: ${d.code}` };
  const s = d.value;
  const none = s.mapping.block.every((b) => b === 0);
  return {
    responder: toHex(s.responder),
    token: toHex(s.token),
    block: none ? null : toHex(s.mapping.block),
    parent: none ? null : toHex(s.mapping.parent),
    time: s.mapping.time,
    seq: s.mapping.commitSeq,
    evidence: s.evidence.map((e) => ({ token: toHex(e.token), block: toHex(e.block), seq: e.commitSeq })),
    head: { seq: s.head.seq, id: toHex(s.head.id), time: s.head.time },
    answerTime: s.answerTime,
    requester: toHex(s.requester),
    bytes: toHex(bytes),
  };
}
