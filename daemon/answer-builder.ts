/**
 * What a responder states in an ANSWER (PROTOCOL §9), built from its store: the token's mapping
 * (all zero when it has none), up to 4 evidence items from its latest commits whose mapping it
 * still holds, and its commit-chain head with the head commit's time. The daemon signs it
 * (daemon/token-query.ts); the simulator builds its peers' answers with the same code.
 *
 * `lie` is the other half: the false statements `--unsafe-misbehave` makes a daemon sign, one
 * kind per fraud predicate, so the evidence path can be tested against real liars.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import { bytesEqual, isZero } from '../wire/block.js';
import { MAX_ANSWER_EVIDENCE, type EvidenceItem, type ProofPair, type UnsignedAnswer } from '../wire/msg-answer.js';
import type { StoreReader } from '../store/types.js';
import { buildStorageProof, proofChunks, type RingWalker } from '../consensus/storage-proof.js';

/** Commit records walked back from the head to find evidence items. */
export const EVIDENCE_WALK = 16;

const ZERO32 = new Uint8Array(32);

export interface AnswerRequest {
  readonly requester: Uint8Array;
  readonly ticket: Uint8Array;
  readonly token: Uint8Array;
}

export class AnswerBuilder {
  /** Evidence items and head time of the chain at `seq`, rebuilt when the head moves. */
  private cache: { seq: number; evidence: EvidenceItem[]; headTime: number } | null = null;

  constructor(
    private readonly store: StoreReader & Partial<RingWalker>,
    private readonly responder: Uint8Array,
    private readonly blake3?: Blake3Kernel,
  ) {}

  /**
   * The honest answer. With `withProof`, the storage proof of §7 for the requester when this store
   * can give one (it holds the token and enough tokens around it), else none.
   */
  build(q: AnswerRequest, now: number, withProof = false): UnsignedAnswer {
    const store = this.store;
    const m = store.token(q.token);
    const head = store.head();
    if (this.cache?.seq !== head.seq) {
      this.cache = { seq: head.seq, evidence: latestEvidence(store), headTime: head.seq === 0 ? 0 : (store.commit(head.seq)?.time ?? 0) };
    }
    const walker = this.store.tokensFrom === undefined ? null : (this.store as RingWalker);
    const proof = withProof && m !== undefined && walker !== null && this.blake3 !== undefined ? buildStorageProof(this.blake3, walker, q.requester, q.token, m.block) : null;
    return {
      requester: q.requester,
      ticket: q.ticket,
      token: q.token,
      mapping: m === undefined ? { block: ZERO32, parent: ZERO32, time: 0, commitSeq: 0 } : { block: m.block, parent: m.parent, time: m.time, commitSeq: m.seq },
      proof: proof ?? [],
      evidence: this.cache.evidence,
      head: { seq: head.seq, id: head.id, time: this.cache.headTime },
      answerTime: now,
      responder: this.responder,
    };
  }
}

/** Up to 4 (token, block, seq) of the latest commits whose mapping the store still holds. */
export function latestEvidence(store: StoreReader): EvidenceItem[] {
  const out: EvidenceItem[] = [];
  let seq = store.head().seq;
  for (let walked = 0; seq > 0 && walked < EVIDENCE_WALK && out.length < MAX_ANSWER_EVIDENCE; walked++, seq--) {
    const rec = store.commit(seq);
    if (rec === undefined) break;
    for (let i = rec.blockIds.length - 1; i >= 0 && out.length < MAX_ANSWER_EVIDENCE; i--) {
      const id = rec.blockIds[i] as Uint8Array;
      const b = store.block(id);
      if (b === undefined) continue;
      for (const e of b.block.entries) {
        if (out.length >= MAX_ANSWER_EVIDENCE) break;
        const cur = store.token(e.token);
        if (cur !== undefined && bytesEqual(cur.block, id)) out.push({ token: e.token, block: id, commitSeq: cur.seq });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Liars (tests and the simulator only; the daemon refuses them on mainnet).

/** The false statements `lie` makes, one per fraud predicate. */
export const LIE_KINDS = ['fork', 'rollback', 'double-map'] as const;
export type LieKind = (typeof LIE_KINDS)[number];
/** `nostore`: the daemon holds no genesis set and answers election queries with made-up proofs. */
export const MISBEHAVE_KINDS = [...LIE_KINDS, 'nostore'] as const;
export type MisbehaveKind = (typeof MISBEHAVE_KINDS)[number];

export interface Misbehave {
  readonly kind: MisbehaveKind;
  /** Probability that one answer is a lie. */
  readonly p: number;
}

/** Parses `fork|rollback|double-map|nostore[:P]` (P in (0, 1], default 1); a one-line reason otherwise. */
export function parseMisbehave(text: string): { ok: true; value: Misbehave } | { ok: false; reason: string } {
  const [kind, pText, ...rest] = text.split(':');
  if (rest.length > 0 || !(MISBEHAVE_KINDS as readonly string[]).includes(kind ?? '')) {
    return { ok: false, reason: `expected ${MISBEHAVE_KINDS.join('|')}[:P], got ${JSON.stringify(text)}` };
  }
  const p = pText === undefined ? 1 : Number(pText);
  if (pText !== undefined && (pText.trim() === '' || !Number.isFinite(p) || p <= 0 || p > 1)) return { ok: false, reason: `P must be a number in (0, 1], got ${JSON.stringify(pText)}` };
  return { ok: true, value: { kind: kind as MisbehaveKind, p } };
}

const utf8 = new TextEncoder();
const FORK_TAG = utf8.encode('ec/unsafe-misbehave/fork');
const DOUBLE_TAG = utf8.encode('ec/unsafe-misbehave/double-map');

function tagged(blake3: Blake3Kernel, tag: Uint8Array, id: Uint8Array): Uint8Array {
  const buf = new Uint8Array(tag.length + id.length);
  buf.set(tag, 0);
  buf.set(id, tag.length);
  return blake3.hash(buf);
}

/**
 * The false version of an honest answer, or null when this kind of lie has nothing to bend:
 *  - fork: a head with the same seq and another id (a second history from that seq on);
 *  - rollback: the token mapped to its previous block, at that block's older commit seq,
 *    under the current head (needs a token that moved at least once);
 *  - double-map: the token's commit seq claimed for a block that does not exist.
 */
export function lie(blake3: Blake3Kernel, store: StoreReader, kind: LieKind, a: UnsignedAnswer): UnsignedAnswer | null {
  const m = a.mapping;
  if (kind === 'fork') return { ...a, head: { ...a.head, id: tagged(blake3, FORK_TAG, a.head.id) } };
  if (isZero(m.block)) return null;
  if (kind === 'double-map') return { ...a, mapping: { ...m, block: tagged(blake3, DOUBLE_TAG, m.block) } };
  if (isZero(m.parent)) return null;
  const parent = store.block(m.parent);
  if (parent === undefined || parent.seq >= m.commitSeq) return null;
  const entry = parent.block.entries.find((e) => bytesEqual(e.token, a.token));
  if (entry === undefined) return null;
  return { ...a, mapping: { block: m.parent, parent: entry.last, time: parent.block.time, commitSeq: parent.seq } };
}

/**
 * What a peer without the stored data can send for a storage proof: the right chunks in the right
 * walk order over tokens it made up (spaced by its own key, so no two such peers agree). It passes
 * `verifyStorageProof` and clusters with nobody (consensus/election.ts).
 */
export function fabricatedProof(blake3: Blake3Kernel, forger: Uint8Array, requester: Uint8Array, token: Uint8Array): ProofPair[] {
  const chunks = proofChunks(blake3, requester, token, ZERO32);
  let t = 0n;
  for (const b of token) t = (t << 8n) | BigInt(b);
  const ring = 1n << 256n;
  const spacing = BigInt(1 + (forger[31] as number)) << 212n;
  return chunks.map((c, k) => {
    const step = BigInt(k < 5 ? k + 1 : -(k - 4)) * spacing;
    let v = (((t + step) % ring) + ring) % ring;
    v = (v & ~0x3ffn) | BigInt(c);
    const out = new Uint8Array(32);
    for (let i = 31; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
    return { token: out, block: ZERO32 };
  });
}
