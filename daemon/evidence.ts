/**
 * Minefield at the daemon (PROTOCOL §9): every verified answer goes into the evidence book
 * (store/evidence.ts), which checks it against the responder's earlier statements. A fraud proof,
 * found here or received as FRAUD_PROOF and re-checked (consensus/fraud.ts), has consequences:
 *
 *  1. it is written to the store before anything else happens (it is the reason for the rest);
 *  2. the culprit is banned locally: dropped from the peer table and the Connected set, every
 *     frame it sends ignored, its answers refused (daemon/peers.ts `ban`);
 *  3. the proof is sent once to every Connected peer (the first proof against a culprit only),
 *     so the whole neighbourhood bans within a hop or two.
 *
 * A FRAUD_PROOF that does not check out is dropped and counted; its sender is not punished (it
 * may be a relay of a different version). Our own key is never banned.
 *
 * The book's other writes (statements kept and evicted) go to LMDB once per tick (`flush`).
 */
import type { Blake3Kernel, Ed25519Kernel } from '../kernels/types.js';
import { checkFraudProof, predicateHolds, type FraudProofRefusal } from '../consensus/fraud.js';
import { toHex } from '../consensus/hex.js';
import { bytesEqual } from '../wire/block.js';
import { decodeIdentity, encodeIdentity, type IdentityRecord } from '../wire/identity.js';
import { answerStatement, decodeStatement, encodeStatement, type AnswerMessage, type FraudPredicate, type FraudProofMessage } from '../wire/msg-answer.js';
import { encodeEvidenceBundle, encodeFraudProofFile } from '../wire/evidence-file.js';
import type { SignedBlock } from '../wire/block.js';
import { EvidenceBook, proofRecord, type EvidenceWrite, type ProofRecord, type ProofSource } from '../store/evidence.js';
import type { StoreReader } from '../store/types.js';
import type { Logger } from './log.js';
import type { FraudFound } from './token-query.js';
import { AddressRateLimiter, TokenBucket } from '../wire/ratelimit.js';

/** FRAUD_PROOF messages checked per second (each costs two Ed25519 verifications); more are dropped. */
export const EVIDENCE_CHECKS_PER_S = 200;

/** Blocks a bundle carries at most (the statements name up to five each): keeps a full book's bundle under the file cap. */
export const BUNDLE_MAX_BLOCKS = 16_384;

export interface EvidenceModules {
  readonly blake3: Blake3Kernel;
  readonly ed25519: Ed25519Kernel;
  readonly networkId: bigint;
  readonly book: EvidenceBook;
  /** Blocks named by statements, for bundles. */
  readonly store: StoreReader;
  /** Durable write of the book's writes (LMDB); absent for an in-memory store. */
  readonly persist?: (writes: readonly EvidenceWrite[]) => void;
  readonly identityOf: (publicKey: Uint8Array) => IdentityRecord | undefined;
  /** Bans a key in the peer table; false when it already was. */
  readonly ban: (publicKey: Uint8Array) => boolean;
  readonly connectedKeys: () => Uint8Array[];
  readonly send: (publicKey: Uint8Array, message: FraudProofMessage) => void;
  readonly ownKey: Uint8Array;
  readonly clock: () => number;
  readonly log: Logger;
}

export interface BanView {
  readonly publicKey: string;
  readonly since: number;
  readonly predicate: FraudPredicate;
  readonly proof: string;
  readonly source: ProofSource;
}

export class Evidence {
  /** Culprit hex → the ban and the proof that caused it. */
  private readonly bans = new Map<string, BanView>();
  readonly counters = {
    proofsFound: { fork: 0, rollback: 0, 'double-mapping': 0 } as Record<FraudPredicate, number>,
    proofsReceived: 0,
    proofsRefused: { malformed: 0, 'different-responders': 0, 'bad-signature': 0, 'predicate-false': 0, 'rate-limited': 0, 'unknown-culprit': 0 } as Record<FraudProofRefusal | 'rate-limited' | 'unknown-culprit', number>,
    proofsGossiped: 0,
  };

  /** FRAUD_PROOF checks cost two signature verifications each: at most this many per second. */
  private readonly checks = new TokenBucket({ ratePerS: EVIDENCE_CHECKS_PER_S, burst: EVIDENCE_CHECKS_PER_S });
  /** …and at most 10 a second from one peer, so one peer cannot starve the others' proofs. */
  private readonly perSender = new AddressRateLimiter({ ratePerS: 10, burst: 20, maxEntries: 4_096 });

  constructor(private readonly mods: EvidenceModules) {}

  /** Bans every culprit of the proofs the book loaded from the store (no gossip: that was done). */
  restore(): void {
    for (const p of this.mods.book.proofs()) this.banFor(p);
  }

  get banCount(): number {
    return this.bans.size;
  }

  banList(): BanView[] {
    return [...this.bans.values()];
  }

  /** Keeps a verified answer; returns the proof it completed, if any (the consequences have run). */
  keepAnswer(m: AnswerMessage): FraudFound | null {
    const bytes = encodeStatement(answerStatement(this.mods.blake3, m));
    const id = this.mods.identityOf(m.responder);
    const r = this.mods.book.add(bytes, this.mods.clock(), id === undefined ? null : encodeIdentity(id));
    const found = r.proof ?? (r.fraud === null || this.bans.has(toHex(m.responder)) ? null : proofRecord(this.mods.blake3, r.fraud.predicate, r.fraud.a, r.fraud.b, this.mods.clock(), 'local'));
    if (found === null) return null;
    this.counters.proofsFound[found.predicate]++;
    this.consequences(found, null);
    return { culprit: found.culpritHex, predicate: found.predicate, proof: found.id };
  }

  /** A FRAUD_PROOF from the frame key `from`. */
  onFraudProof(from: Uint8Array, m: FraudProofMessage): void {
    this.counters.proofsReceived++;
    // A proof against a peer we banned already changes nothing: skip its signatures.
    if (this.bans.has(toHex(m.a.responder))) return;
    // Only proofs against identities we know are checked, kept and passed on: a proof against a
    // throwaway key costs its maker nothing and would fill every book in the network.
    if (this.mods.identityOf(m.a.responder) === undefined) {
      this.counters.proofsRefused['unknown-culprit']++;
      return;
    }
    const a = encodeStatement(m.a);
    const b = encodeStatement(m.b);
    // The predicate is cheap and the signatures are not: refuse what cannot be a proof first.
    if (!predicateHolds(m.predicate, a, b)) {
      this.counters.proofsRefused['predicate-false']++;
      return;
    }
    const now = this.mods.clock();
    if (!this.perSender.take(toHex(from), now) || !this.checks.take(now)) {
      this.counters.proofsRefused['rate-limited']++;
      return;
    }
    const check = checkFraudProof(this.mods, this.mods.networkId, m.predicate, a, b);
    if (!check.ok) {
      this.counters.proofsRefused[check.code]++;
      this.mods.log.info({ from: toHex(from).slice(0, 16), code: check.code }, 'fraud proof refused');
      return;
    }
    if (this.bans.has(toHex(check.culprit))) return;
    this.consequences(this.keep(m.predicate, a, b, 'gossip'), from);
  }

  /** The proof as kept in the book, or, when the book is full of proofs, as a record that still bans. */
  private keep(predicate: FraudPredicate, a: Uint8Array, b: Uint8Array, source: ProofSource): ProofRecord {
    return this.mods.book.addProof(predicate, a, b, this.mods.clock(), source) ?? proofRecord(this.mods.blake3, predicate, a, b, this.mods.clock(), source);
  }

  /**
   * A fraud proof handed in through the control API (found offline, for example by comparing two
   * owners' bundles): checked like a received one, then kept, banned and gossiped.
   */
  submitProof(predicate: FraudPredicate, a: Uint8Array, b: Uint8Array): { ok: true; culprit: string; proof: string; banned: boolean } | { ok: false; reason: string } {
    const check = checkFraudProof(this.mods, this.mods.networkId, predicate, a, b);
    if (!check.ok) return { ok: false, reason: check.reason };
    const culprit = toHex(check.culprit);
    const known = this.bans.get(culprit);
    if (known !== undefined) return { ok: true, culprit, proof: known.proof, banned: false };
    const proof = this.keep(predicate, a, b, 'submitted');
    this.consequences(proof, null);
    return { ok: true, culprit, proof: proof.id, banned: this.bans.has(culprit) };
  }

  /** Writes what the book changed since the last flush (one transaction). */
  flush(): void {
    const w = this.mods.book.takeWrites();
    if (w.length > 0) this.mods.persist?.(w);
  }

  private consequences(proof: ProofRecord, from: Uint8Array | null): void {
    this.flush();
    if (!this.banFor(proof)) return;
    this.mods.log.warn({ culprit: proof.culpritHex, predicate: proof.predicate, proof: proof.id, source: proof.source }, 'fraud proven: peer banned');
    const message: FraudProofMessage = { type: 'fraud-proof', predicate: proof.predicate, a: statementOf(proof.a), b: statementOf(proof.b) };
    for (const key of this.mods.connectedKeys()) {
      if (bytesEqual(key, proof.culprit) || (from !== null && bytesEqual(key, from))) continue;
      this.mods.send(key, message);
      this.counters.proofsGossiped++;
    }
  }

  /** Bans the proof's culprit; false when it was banned already or is us. */
  private banFor(proof: ProofRecord): boolean {
    if (this.bans.has(proof.culpritHex) || bytesEqual(proof.culprit, this.mods.ownKey)) return false;
    this.bans.set(proof.culpritHex, { publicKey: proof.culpritHex, since: proof.foundAt, predicate: proof.predicate, proof: proof.id, source: proof.source });
    this.mods.ban(proof.culprit);
    return true;
  }

  /** A proof as a self-contained file (with the culprit's identity record when we know it). */
  proofFile(proof: ProofRecord): Uint8Array {
    const rec = this.identityRecord(proof.culpritHex);
    return encodeFraudProofFile({ networkId: this.mods.networkId, predicate: proof.predicate, identity: rec, a: proof.a, b: proof.b });
  }

  /** The kept statements (about `token`, if given), their responders' identities and the blocks they name that we hold. */
  bundle(token?: Uint8Array): Uint8Array {
    const kept = this.mods.book.kept(token === undefined ? {} : { token });
    const identities = new Map<string, IdentityRecord>();
    const blocks = new Map<string, SignedBlock>();
    for (const { responder, s } of kept) {
      const rec = this.identityRecord(responder);
      if (rec !== null) identities.set(responder, rec);
      for (const id of namedBlocks(s.bytes)) {
        const k = toHex(id);
        if (blocks.has(k) || blocks.size >= BUNDLE_MAX_BLOCKS) continue;
        const b = this.mods.store.block(id);
        if (b !== undefined) blocks.set(k, { block: b.block, signatures: b.signatures });
      }
    }
    return encodeEvidenceBundle({ networkId: this.mods.networkId, identities: [...identities.values()], statements: kept.map((k) => k.s.bytes), blocks: [...blocks.values()] });
  }

  private identityRecord(publicKeyHex: string): IdentityRecord | null {
    const bytes = this.mods.book.identityOf(publicKeyHex);
    if (bytes !== null) {
      const d = decodeIdentity(bytes);
      if (d.ok) return d.record;
    }
    return null;
  }
}

function statementOf(bytes: Uint8Array): ReturnType<typeof answerStatement> {
  const d = decodeStatement(bytes);
  if (!d.ok) throw new Error(`a kept statement does not decode (${d.field}: ${d.code})`);
  return d.value;
}

/** Block ids a statement names (its mapping and its evidence items), all-zero excluded. */
export function namedBlocks(bytes: Uint8Array): Uint8Array[] {
  const d = decodeStatement(bytes);
  if (!d.ok) return [];
  const ids = [d.value.mapping.block, ...d.value.evidence.map((e) => e.block)];
  return ids.filter((id) => id.some((b) => b !== 0));
}
