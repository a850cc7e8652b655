/**
 * The peer lifecycle on real frames (PROTOCOL §7; consensus/lifecycle.ts holds the logic, the
 * simulator runs the same class): FIND is a QUERY_TOKEN with the proof flag, a proof is a signed
 * ANSWER carrying the storage proof over this daemon's genesis set (an invitation is one with an
 * all-zero ticket), a referral is a REFERRAL with the named peers' identity records and endpoints.
 *
 * In: QUERY_TOKENs with the proof flag from verified peers that ask for themselves; ANSWERs and
 * REFERRALs whose ticket is not a client query's (daemon/token-query.ts owns those), after their
 * signature and fields check out. Out: the lifecycle's messages, and its Connected and Pending
 * sets to the peer table (`applyStates`), which hands them to the consensus core.
 */
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../kernels/types.js';
import type { StoreReader } from '../store/types.js';
import { bytesEqual, isZero } from '../wire/block.js';
import { signAnswer, verifyAnswer, type AnswerMessage } from '../wire/msg-answer.js';
import type { QueryTokenMessage, ReferralMessage, ReferredPeer } from '../wire/msg-peer.js';
import { endpointHost } from '../wire/msg-common.js';
import { genesisProof, GenesisTable } from '../consensus/genesis.js';
import { PeerLifecycle, type LifecycleParams, type LifeMessage, type LifeOutput, type PeerState } from '../consensus/lifecycle.js';
import type { NetworkProfile } from '../wire/profiles.js';
import { AnswerBuilder, fabricatedProof } from './answer-builder.js';
import type { ProofPair } from '../wire/msg-answer.js';
import type { PeerAddress } from './transport.js';

const ZERO32 = new Uint8Array(32);

export interface ElectionPeers {
  addressOf(publicKey: Uint8Array): Uint8Array | undefined;
  publicKeyOf(address: Uint8Array): Uint8Array | undefined;
  referralsFor(addresses: readonly Uint8Array[]): ReferredPeer[];
  introduce(record: ReferredPeer['identity'], endpoint: PeerAddress): void;
  applyStates(connected: readonly Uint8Array[], pending: readonly Uint8Array[]): void;
}

export interface ElectionsModules {
  readonly blake3: Blake3Kernel;
  readonly ed25519: Ed25519Kernel;
  readonly signer: Ed25519Signer;
  readonly address: Uint8Array;
  readonly profile: NetworkProfile;
  readonly store: StoreReader;
  readonly peers: ElectionPeers;
  /** Queue a message to the peer with this frame key; false when it cannot be routed. */
  readonly send: (publicKey: Uint8Array, message: QueryTokenMessage | AnswerMessage | ReferralMessage) => boolean;
  readonly random: (n: number) => Uint8Array;
  readonly clock: () => number;
  /** `--unsafe-misbehave nostore`: hold no genesis set and answer with made-up proofs (tests only). */
  readonly nostore?: boolean;
}

export interface ElectionCounters {
  finds: number;
  answers: number;
  referrals: number;
  invitations: number;
  /** Election answers dropped: bad signature or fields. */
  dropped: number;
}

/** The daemon's longest calm interval between elections (320 ticks: 16 s on every profile's 50 ms tick). */
export const DAEMON_CALM_MAX_TICKS = 320;

export class Elections {
  readonly life: PeerLifecycle;
  readonly counters: ElectionCounters = { finds: 0, answers: 0, referrals: 0, invitations: 0, dropped: 0 };
  private readonly builder: AnswerBuilder;
  private readonly random: () => number;

  constructor(
    private readonly mods: ElectionsModules,
    params: Partial<LifecycleParams> = {},
  ) {
    const g = mods.profile.genesis;
    const view = new GenesisTable(mods.blake3, mods.profile.networkId, g.bits, { center: mods.address, reach: g.reach }).view(mods.address, g.reach);
    this.builder = new AnswerBuilder(mods.store, mods.signer.publicKey, mods.blake3);
    this.random = () => new DataView(mods.random(4).buffer).getUint32(0) / 2 ** 32;
    const proof = (requester: Uint8Array, token: Uint8Array): { block: Uint8Array; pairs: readonly ProofPair[] } | null => {
      if (mods.nostore === true) return { block: ZERO32, pairs: fabricatedProof(mods.blake3, mods.signer.publicKey, requester, token) };
      return genesisProof(mods.blake3, view, mods.store.token(token)?.block, requester, token);
    };
    // Keep-alive PINGs keep Connected peers heard, so a settled daemon's calm elections back off
    // to 16 s: an idle network then costs little (LIMITS.md).
    this.life = new PeerLifecycle({ blake3: mods.blake3, random: this.random, proof }, mods.address, { window: mods.profile.window, calmMaxTicks: DAEMON_CALM_MAX_TICKS, ...params });
  }

  learn(address: Uint8Array): void {
    this.life.learn(address);
  }

  /** A peer we held Connected before a restart (peers.json): invited again at once. */
  rejoin(address: Uint8Array): void {
    this.take(this.life.rejoin(address));
  }

  heard(address: Uint8Array): void {
    this.life.heard(address);
  }

  forget(address: Uint8Array): void {
    if (this.life.forget(address)) this.apply();
  }

  formed(): boolean {
    return this.life.formed();
  }

  /** Nothing in flight: no election open and no peer Pending. */
  quiet(): boolean {
    const c = this.life.counts();
    return this.life.formed() && c.elections === 0 && c.pending === 0;
  }

  /** For status and metrics. */
  view(): { formed: boolean; identified: number; pending: number; connected: number; elections: number; coreConnected: number } {
    return { formed: this.life.formed(), ...this.life.counts(), coreConnected: Math.round(this.life.coreConnected() * 1000) / 1000 };
  }

  stateOf(address: Uint8Array): PeerState | undefined {
    return this.life.stateOf(address);
  }

  /** `elapsed`: ticks since the last call (more than 1 when the daemon was quiet). */
  tick(elapsed = 1): void {
    this.take(this.life.tick(elapsed));
  }

  /** A QUERY_TOKEN with the proof flag from a verified peer asking for itself; false when it is not one. */
  onQuery(from: Uint8Array, q: QueryTokenMessage): boolean {
    const asker = this.mods.peers.addressOf(from);
    if (!q.wantProof || asker === undefined || !bytesEqual(asker, q.requester)) return false;
    this.counters.finds++;
    this.take(this.life.receive(asker, { type: 'find', token: q.token, ticket: q.ticket }));
    return true;
  }

  /** An ANSWER that is no client query's: an election answer or an invitation. */
  onAnswer(from: Uint8Array, m: AnswerMessage): void {
    const sender = this.mods.peers.addressOf(from);
    // The cheap checks (an election waits for it, or an invitation we may read) before the signature.
    if (sender === undefined || !bytesEqual(m.responder, from) || !bytesEqual(m.requester, this.mods.address) || m.proof.length === 0 || !this.life.expectsAnswer(sender, m.ticket, m.token)) {
      this.counters.dropped++;
      return;
    }
    if (!verifyAnswer({ ed25519: this.mods.ed25519, blake3: this.mods.blake3 }, this.mods.profile.networkId, m)) {
      this.counters.dropped++;
      return;
    }
    if (isZero(m.ticket)) this.counters.invitations++;
    else this.counters.answers++;
    this.take(this.life.receive(sender, { type: 'proof', token: m.token, block: m.mapping.block, pairs: m.proof, ticket: m.ticket }));
  }

  /** A REFERRAL that is no client query's: the named peers are verified before the lifecycle hears of them. */
  onReferral(from: Uint8Array, m: ReferralMessage): void {
    const sender = this.mods.peers.addressOf(from);
    // Each named peer may cost an Argon2 check: only referrals our elections wait for are read.
    if (sender === undefined || !this.life.awaits(sender, m.ticket, m.token)) {
      this.counters.dropped++;
      return;
    }
    this.counters.referrals++;
    const known: Uint8Array[] = [];
    for (const r of m.peers) {
      const a = this.mods.peers.addressOf(r.identity.publicKey);
      if (a !== undefined) known.push(a);
      else this.mods.peers.introduce(r.identity, { host: endpointHost(r.endpoint), port: r.endpoint.port });
    }
    this.take(this.life.receive(sender, { type: 'refer', token: m.token, ticket: m.ticket, peers: known }));
  }

  private take(out: LifeOutput): void {
    for (const s of out.messages) {
      const key = this.mods.peers.publicKeyOf(s.to);
      const w = key === undefined ? null : this.wire(s.to, s.message);
      if (key !== undefined && w !== null) this.mods.send(key, w);
    }
    if (out.changed) this.apply();
  }

  private apply(): void {
    this.mods.peers.applyStates(this.life.connected(), this.life.pending());
  }

  private wire(to: Uint8Array, m: LifeMessage): QueryTokenMessage | AnswerMessage | ReferralMessage | null {
    if (m.type === 'find') return { type: 'query-token', token: m.token, ticket: m.ticket, requester: this.mods.address, wantProof: true, allowForward: false };
    if (m.type === 'refer') {
      const peers = this.mods.peers.referralsFor(m.peers);
      return peers.length === 0 ? null : { type: 'referral', token: m.token, ticket: m.ticket, peers };
    }
    const a = this.builder.build({ requester: to, ticket: m.ticket, token: m.token }, this.mods.clock());
    return signAnswer(this.mods.blake3, this.mods.signer, this.mods.profile.networkId, { ...a, proof: m.pairs });
  }
}
