/**
 * QUERY_TOKEN → ANSWER | REFERRAL (PROTOCOL §7, §9), both halves:
 *
 * - **Responder.** A peer that hosts the token answers with a signed statement
 *   (daemon/answer-builder.ts), bound to the requester's ring address and ticket. A peer that does not
 *   host it refers the asker to the two Connected peers closest to the token (identity records
 *   and endpoints), never to the asker itself; with nobody to refer to it answers. Each answer
 *   costs a signature, so queries are rate limited per sender key and globally, the requester
 *   must be the asker's own verified address, and the evidence is rebuilt only when the head moves.
 * - **Requester.** `query()` sends QUERY_TOKEN to the token's neighbourhood (the window of the
 *   token over our Connected peers, PROTOCOL §5.1), each with a fresh 16-byte random ticket, and
 *   collects what comes back until every asked peer has answered or referred, or the timeout.
 *   An ANSWER counts only when it came from the key we asked under that ticket, names our address
 *   as requester and the token we asked for, and its signature verifies.
 *
 * Every verified answer goes to `keep` (the evidence book, daemon/evidence.ts), which checks it
 * for fraud against the responder's earlier statements.
 *
 * A query with `wantProof` from a verified peer asking for itself is an election FIND and is
 * answered by daemon/elections.ts (a proof over the genesis set, or a referral); from a client,
 * it gets the storage proof of §7 over the store when one can be built (at most 5 a second). The
 * requester checks the proof and reports the verdict. Tickets are random per query rather than
 * §8's rotating MAC: the pending table has to be kept anyway, and an unguessable random value is
 * as good a binding.
 *
 * **Forwarding** (PROTOCOL §7). A peer that does not host the token, asked by a Connected peer
 * that allows it, forwards the query (p = 2/3, else it refers) to its Connected peer closest to
 * the token, unchanged but for `allowForward` (one hop), and relays the ANSWER or REFERRAL that
 * comes back under the same ticket. The answer stays bound to the original requester: its
 * address and ticket are in what the host signed, so the relay cannot alter it, and a requester
 * accepts an answer signed by a responder other than the peer it asked only when it came back
 * through that peer. A forwarded query is served only from a Connected peer (it asks us to sign
 * for a third party's address).
 *
 * Pure of I/O: sending, the clock and randomness are injected; timers are owned and cleared by
 * `stop()`.
 */
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../kernels/types.js';
import { bytesEqual, isZero } from '../wire/block.js';
import { signAnswer, verifyAnswer, type AnswerMessage } from '../wire/msg-answer.js';
import { AnswerBuilder, lie, type Misbehave } from './answer-builder.js';
import { verifyStorageProof } from '../consensus/storage-proof.js';
import type { QueryTokenMessage, ReferralMessage, ReferredPeer } from '../wire/msg-peer.js';
import { endpointHost } from '../wire/msg-common.js';
import type { StoreReader } from '../store/types.js';
import { toHex as hex } from '../consensus/hex.js';
import { AddressRateLimiter, TokenBucket } from '../wire/ratelimit.js';

export const TOKEN_QUERY_LIMITS = {
  /** Network queries collecting answers at once (more are refused with `busy`). */
  maxPending: 256,
  /** Peers asked per query: a window is 2w + 1 = 9 with the default profile. */
  maxAsked: 16,
  /** Longest a query collects answers. */
  maxTimeoutMs: 30_000,
  /** Peers named in one REFERRAL (PROTOCOL §7: two). */
  referralPeers: 2,
  /**
   * Queries served per sender key: each ANSWER costs an Ed25519 signature, and QUERY_TOKEN packs
   * 16 to a frame, so the per-address frame bucket alone would let one address ask for 320 000
   * signatures a second. Over the limit a query is dropped unanswered (counted).
   */
  perSenderPerS: 50,
  perSenderBurst: 100,
  /** Sender keys tracked by that limiter (≈ LRU). */
  senderEntries: 16_384,
  /** Queries served per second from all senders together (≈ 1/6 of a core of signing here). */
  globalPerS: 5_000,
  globalBurst: 5_000,
  /** Storage proofs built per second (each walks ≈ 10 000 stored tokens, ≈ 20 ms here); over it, answers carry none. */
  proofsPerS: 5,
  /** Share of forwardable queries we forward rather than refer (PROTOCOL §7: 2/3). */
  forwardShare: 2 / 3,
  /** Forwarded queries awaiting their reply; beyond it we refer. */
  maxForwards: 4_096,
  /** A forwarded query's reply is relayed only within this long. */
  forwardTtlMs: 10_000,
} as const;

const TICKET_BYTES = 16;


/** One peer to ask: its frame key and ring address. */
export interface QueryTarget {
  readonly publicKey: Uint8Array;
  readonly address: Uint8Array;
}

export interface TokenAnswerView {
  readonly responder: string;
  /** The asked peer that forwarded our query to the responder (absent when it answered itself). */
  readonly via?: string;
  readonly address: string;
  /** The block the responder maps the token to; null when it has no mapping. */
  readonly block: string | null;
  readonly parent: string | null;
  readonly time: number;
  readonly seq: number;
  readonly head: { readonly seq: number; readonly id: string; readonly time: number };
  readonly answerTime: number;
  readonly evidence: number;
  /** The storage proof (PROTOCOL §7): `none`, `valid`, or `invalid: reason`. */
  readonly proof: string;
  /** The statement's signature verified for the responder key (answers that do not are dropped). */
  readonly verified: true;
}

export interface ReferralView {
  /** Who referred us. */
  readonly by: string;
  readonly publicKey: string;
  readonly endpoint: string;
}

export interface TokenQueryResult {
  readonly token: string;
  readonly asked: number;
  readonly answers: TokenAnswerView[];
  readonly referrals: ReferralView[];
  /** Fraud proofs the answers completed (the responders are banned). */
  readonly fraud: FraudFound[];
  /** Asked peers that neither answered nor referred in time. */
  readonly silent: number;
  readonly elapsedMs: number;
}

export type TokenQueryDrop = 'unknown-ticket' | 'wrong-responder' | 'wrong-fields' | 'bad-signature' | 'duplicate';

/** QUERY_TOKENs not served, by reason. */
export type TokenQueryRefusal = 'rate-limited' | 'busy' | 'wrong-requester';

export interface TokenQueryModules {
  readonly blake3: Blake3Kernel;
  readonly ed25519: Ed25519Kernel;
  readonly store: StoreReader;
  /** Our signing key (the frame identity) and our ring address. */
  readonly signer: Ed25519Signer;
  readonly address: Uint8Array;
  readonly networkId: bigint;
  /** Whether we host `token` (consensus `hosts`). */
  readonly hosts: (token: Uint8Array) => boolean;
  /** The verified ring address of a sender key, when it has one (peers; clients have none). */
  readonly addressOf: (publicKey: Uint8Array) => Uint8Array | undefined;
  /** Connected peers closest to `token` for a referral, without `exclude` (a frame key). */
  readonly referrals: (token: Uint8Array, count: number, exclude: Uint8Array) => ReferredPeer[];
  /** The peer with this frame key is Connected here (it may forward queries to us and have us forward its own). */
  readonly connected: (publicKey: Uint8Array) => boolean;
  /** Queue a message to a peer by frame key; false when it cannot be routed. */
  readonly send: (publicKey: Uint8Array, message: QueryTokenMessage | AnswerMessage | ReferralMessage) => boolean;
  readonly clock: () => number;
  readonly random: (n: number) => Uint8Array;
  /** Every verified answer, to be kept as evidence; returns the fraud proof it completed, if any. */
  readonly keep?: (m: AnswerMessage) => FraudFound | null;
  /** Sign false statements (`--unsafe-misbehave`; never on mainnet). */
  readonly misbehave?: Misbehave;
}

/** A fraud proof an answer completed. */
export interface FraudFound {
  readonly culprit: string;
  readonly predicate: string;
  readonly proof: string;
}

interface Pending {
  readonly token: Uint8Array;
  readonly startedAt: number;
  /** Frame keys (hex) of the asked peers that have not responded yet. */
  readonly waiting: Set<string>;
  /** Frame key hex → ring address hex of every asked peer. */
  readonly addressOf: Map<string, string>;
  readonly answers: TokenAnswerView[];
  readonly referrals: ReferralView[];
  readonly fraud: FraudFound[];
  readonly resolve: (r: TokenQueryResult) => void;
  timer: NodeJS.Timeout | null;
}

export class TokenQueryError extends Error {
  override readonly name = 'TokenQueryError';
  constructor(
    readonly code: 'busy' | 'stopped',
    message: string,
  ) {
    super(message);
  }
}

export class TokenQueries {
  private readonly pending = new Map<string, Pending>();
  /** Dropped responses by reason (metrics). */
  readonly drops: Record<TokenQueryDrop, number> = { 'unknown-ticket': 0, 'wrong-responder': 0, 'wrong-fields': 0, 'bad-signature': 0, duplicate: 0 };
  /** Queries not served, by reason (metrics). */
  readonly refused: Record<TokenQueryRefusal, number> = { 'rate-limited': 0, busy: 0, 'wrong-requester': 0 };
  answered = 0;
  referred = 0;
  forwarded = 0;
  relayed = 0;
  /** Ticket hex → the forwarded query: who asked us, whom we asked, when. */
  private readonly forwards = new Map<string, { back: Uint8Array; next: string; at: number }>();
  private stopped = false;
  private readonly perSender = new AddressRateLimiter({
    ratePerS: TOKEN_QUERY_LIMITS.perSenderPerS,
    burst: TOKEN_QUERY_LIMITS.perSenderBurst,
    maxEntries: TOKEN_QUERY_LIMITS.senderEntries,
  });
  private readonly global = new TokenBucket({ ratePerS: TOKEN_QUERY_LIMITS.globalPerS, burst: TOKEN_QUERY_LIMITS.globalBurst });
  private readonly proofs = new TokenBucket({ ratePerS: TOKEN_QUERY_LIMITS.proofsPerS, burst: TOKEN_QUERY_LIMITS.proofsPerS });
  private readonly builder: AnswerBuilder;
  /** False statements signed under `misbehave`. */
  lies = 0;

  constructor(private readonly mods: TokenQueryModules) {
    this.builder = new AnswerBuilder(mods.store, mods.signer.publicKey, mods.blake3);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Whether a response under `ticket` belongs to one of our queries (else it is the lifecycle's). */
  owns(ticket: Uint8Array): boolean {
    return this.pending.has(hex(ticket));
  }

  /** The per-sender and global limits on queries served, for queries served elsewhere too (elections). */
  admit(from: Uint8Array): boolean {
    const now = this.mods.clock();
    if (!this.perSender.take(hex(from), now)) return this.refuse('rate-limited') ?? false;
    if (!this.global.take(now)) return this.refuse('busy') ?? false;
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Requester.

  /** Asks `targets` about `token`; resolves when all responded or after `timeoutMs`. Rejects with TokenQueryError. */
  query(token: Uint8Array, targets: readonly QueryTarget[], timeoutMs: number, wantProof = false): Promise<TokenQueryResult> {
    if (this.stopped) return Promise.reject(new TokenQueryError('stopped', 'the node is stopping'));
    if (this.pending.size >= TOKEN_QUERY_LIMITS.maxPending) {
      return Promise.reject(new TokenQueryError('busy', `${TOKEN_QUERY_LIMITS.maxPending} network queries are already in flight`));
    }
    const timeout = Math.max(0, Math.min(timeoutMs, TOKEN_QUERY_LIMITS.maxTimeoutMs));
    return new Promise<TokenQueryResult>((resolve) => {
      let ticket = this.mods.random(TICKET_BYTES);
      let key = hex(ticket);
      // A collision would hand one query's answers to another; redraw (never with real randomness).
      for (let tries = 0; this.pending.has(key); tries++) {
        if (tries >= 8) throw new Error('the random source repeats itself');
        ticket = this.mods.random(TICKET_BYTES);
        key = hex(ticket);
      }
      const p: Pending = {
        token: Uint8Array.from(token),
        startedAt: this.mods.clock(),
        waiting: new Set(),
        addressOf: new Map(),
        answers: [],
        referrals: [],
        fraud: [],
        resolve,
        timer: null,
      };
      const message: QueryTokenMessage = { type: 'query-token', token: p.token, ticket, requester: this.mods.address, wantProof, allowForward: true };
      for (const t of targets.slice(0, TOKEN_QUERY_LIMITS.maxAsked)) {
        const k = hex(t.publicKey);
        if (p.waiting.has(k) || bytesEqual(t.publicKey, this.mods.signer.publicKey)) continue;
        if (!this.mods.send(t.publicKey, message)) continue;
        p.waiting.add(k);
        p.addressOf.set(k, hex(t.address));
      }
      this.pending.set(key, p);
      if (p.waiting.size === 0) {
        this.finish(key);
        return;
      }
      p.timer = setTimeout(() => this.finish(key), timeout);
    });
  }

  /** The pending query a response under `ticket` from `from` belongs to, if `from` still owes one (else counted). */
  private expected(ticket: Uint8Array, from: Uint8Array): { key: string; p: Pending; k: string } | undefined {
    const key = hex(ticket);
    const p = this.pending.get(key);
    if (p === undefined) return void this.drop('unknown-ticket');
    const k = hex(from);
    if (!p.waiting.has(k)) return void this.drop(p.addressOf.has(k) ? 'duplicate' : 'wrong-responder');
    return { key, p, k };
  }

  /** An ANSWER from the frame key `from`. */
  onAnswer(from: Uint8Array, m: AnswerMessage): void {
    const x = this.expected(m.ticket, from);
    if (x === undefined) return;
    const { key, p, k } = x;
    // An answer signed by another key came back through the peer we asked: it forwarded the query.
    const via = bytesEqual(m.responder, from) ? undefined : k;
    if (!bytesEqual(m.token, p.token) || !bytesEqual(m.requester, this.mods.address)) return this.drop('wrong-fields');
    if (!verifyAnswer({ ed25519: this.mods.ed25519, blake3: this.mods.blake3 }, this.mods.networkId, m)) {
      // One verification per asked peer: a peer that signs badly has had its say.
      this.drop('bad-signature');
      this.responded(key, p, k);
      return;
    }
    const none = isZero(m.mapping.block);
    const responder = hex(m.responder);
    p.answers.push({
      responder,
      ...(via === undefined ? {} : { via }),
      address: via === undefined ? (p.addressOf.get(k) ?? '') : ringAddressHex(this.mods.addressOf(m.responder)),
      block: none ? null : hex(m.mapping.block),
      parent: none ? null : hex(m.mapping.parent),
      time: m.mapping.time,
      seq: m.mapping.commitSeq,
      head: { seq: m.head.seq, id: hex(m.head.id), time: m.head.time },
      answerTime: m.answerTime,
      evidence: m.evidence.length,
      proof: m.proof.length === 0 ? 'none' : this.proofVerdict(m),
      verified: true,
    });
    const found = this.mods.keep?.(m) ?? null;
    if (found !== null) p.fraud.push(found);
    this.responded(key, p, k);
  }

  private proofVerdict(m: AnswerMessage): string {
    const v = verifyStorageProof(this.mods.blake3, this.mods.address, m.token, m.mapping.block, m.proof);
    return v.ok ? 'valid' : `invalid: ${v.reason}`;
  }

  /** A REFERRAL from the frame key `from`. */
  onReferral(from: Uint8Array, m: ReferralMessage): void {
    const x = this.expected(m.ticket, from);
    if (x === undefined) return;
    const { key, p, k } = x;
    if (!bytesEqual(m.token, p.token)) return this.drop('wrong-fields');
    for (const r of m.peers) p.referrals.push({ by: k, publicKey: hex(r.identity.publicKey), endpoint: `${endpointHost(r.endpoint)}:${r.endpoint.port}` });
    this.responded(key, p, k);
  }

  private responded(key: string, p: Pending, k: string): void {
    p.waiting.delete(k);
    if (p.waiting.size === 0) this.finish(key);
  }

  private drop(reason: TokenQueryDrop): void {
    this.drops[reason]++;
  }

  private finish(key: string): void {
    const p = this.pending.get(key);
    if (p === undefined) return;
    this.pending.delete(key);
    if (p.timer !== null) clearTimeout(p.timer);
    p.timer = null;
    p.resolve({
      token: hex(p.token),
      asked: p.addressOf.size,
      answers: p.answers,
      referrals: p.referrals,
      fraud: p.fraud,
      silent: p.waiting.size,
      elapsedMs: Math.max(0, this.mods.clock() - p.startedAt),
    });
  }

  /** Resolves every pending query with what it has and refuses new ones. */
  stop(): void {
    this.stopped = true;
    for (const key of [...this.pending.keys()]) this.finish(key);
  }

  // -------------------------------------------------------------------------------------------
  // Responder.

  /**
   * What to send back for a QUERY_TOKEN from the frame key `from`: a signed ANSWER when we host
   * the token, else a REFERRAL (null when we know nobody to refer to).
   */
  respond(from: Uint8Array, q: QueryTokenMessage): AnswerMessage | ReferralMessage | null {
    if (this.stopped || !this.admit(from)) return null;
    // The requester is the asker itself, or the asker is a Connected peer forwarding the query:
    // nobody else gets statements bound to a third party's address. Clients have no address.
    const asker = this.mods.addressOf(from);
    if (asker !== undefined && !bytesEqual(asker, q.requester) && !this.mods.connected(from)) return this.refuse('wrong-requester');
    if (!this.mods.hosts(q.token)) {
      if (q.allowForward && asker !== undefined && this.forward(from, q)) return null;
      const peers = this.mods.referrals(q.token, TOKEN_QUERY_LIMITS.referralPeers, from);
      if (peers.length > 0) {
        this.referred++;
        return { type: 'referral', token: q.token, ticket: q.ticket, peers };
      }
      // Nobody to refer to: say what we know (no mapping, most likely) rather than stay silent.
    }
    this.answered++;
    return this.answer(q);
  }

  /** Forwards a Connected asker's query to our Connected peer closest to the token (p = 2/3); false when we refer instead. */
  private forward(from: Uint8Array, q: QueryTokenMessage): boolean {
    const now = this.mods.clock();
    if (!this.mods.connected(from) || randomUnit(this.mods.random(4)) >= TOKEN_QUERY_LIMITS.forwardShare * 2 ** 32) return false;
    this.sweepForwards(now);
    const key = hex(q.ticket);
    if (this.forwards.size >= TOKEN_QUERY_LIMITS.maxForwards || this.forwards.has(key)) return false;
    const next = this.mods.referrals(q.token, 1, from).find((r) => !bytesEqual(r.identity.publicKey, from));
    if (next === undefined || !this.mods.send(next.identity.publicKey, { ...q, allowForward: false })) return false;
    this.forwards.set(key, { back: Uint8Array.from(from), next: hex(next.identity.publicKey), at: now });
    this.forwarded++;
    return true;
  }

  /** An ANSWER or REFERRAL for a query we forwarded, from the peer we forwarded it to: sent on to the asker. */
  relay(from: Uint8Array, m: AnswerMessage | ReferralMessage): boolean {
    const key = hex(m.ticket);
    const f = this.forwards.get(key);
    if (f === undefined || f.next !== hex(from) || this.mods.clock() - f.at > TOKEN_QUERY_LIMITS.forwardTtlMs) return false;
    this.forwards.delete(key);
    this.relayed++;
    this.mods.send(f.back, m);
    return true;
  }

  private sweepForwards(now: number): void {
    if (this.forwards.size < TOKEN_QUERY_LIMITS.maxForwards / 2) return;
    for (const [k, f] of this.forwards) if (now - f.at > TOKEN_QUERY_LIMITS.forwardTtlMs) this.forwards.delete(k);
  }

  private refuse(reason: TokenQueryRefusal): null {
    this.refused[reason]++;
    return null;
  }

  private answer(q: QueryTokenMessage): AnswerMessage {
    const mods = this.mods;
    const now = mods.clock();
    let a = this.builder.build(q, now, q.wantProof && this.proofs.take(now));
    const mis = mods.misbehave;
    if (mis !== undefined && mis.kind !== 'nostore' && randomUnit(mods.random(4)) < mis.p * 2 ** 32) {
      const l = lie(mods.blake3, mods.store, mis.kind, a);
      if (l !== null) {
        a = l;
        this.lies++;
      }
    }
    return signAnswer(mods.blake3, mods.signer, mods.networkId, a);
  }
}

function ringAddressHex(a: Uint8Array | undefined): string {
  return a === undefined ? '' : hex(a);
}

/** Four random bytes as a u32. */
function randomUnit(r: Uint8Array): number {
  return new DataView(r.buffer, r.byteOffset, 4).getUint32(0);
}
