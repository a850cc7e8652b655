/**
 * The peer table of one daemon (PROTOCOL §7): bootstrap peers, PING/PONG with the observed
 * address, IDENTITY exchange with verification off the event loop, and the Connected set handed
 * to the consensus core.
 *
 * A verified identity is only Identified and handed to the peer lifecycle (daemon/elections.ts),
 * whose elections decide the Connected and Pending sets (`applyStates`); bootstrap peers are only
 * a way in, and referred peers are verified before they enter the table.
 *
 * Keys: a peer is its Ed25519 public key (what frames authenticate); once its identity verifies
 * it also has a ring address (what the consensus core speaks in). `addressOf(pk)` and
 * `destination(address)` translate between the two.
 *
 * Endpoints roam: any authenticated frame from a known key updates that peer's endpoint (frames
 * are AEAD-authenticated and replay-checked before they reach us), so a restarted peer on a new
 * port is found again as soon as it speaks. Bootstrap entries given as a node.json path are
 * re-read until they resolve and whenever they change.
 *
 * Lifecycle: start() begins the maintenance timer; stop() clears it. Never throws into the caller.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import type { IdentityRecord, IdentityVerifyResult } from '../wire/identity.js';
import { encodeIdentity, identityFieldProblem } from '../wire/identity.js';
import { ringDistance } from '../consensus/ring.js';
import { endpointFromHost, endpointHost, type WireEndpoint } from '../wire/msg-common.js';
import type { IdentityMessage, PingMessage, PongMessage, ReferredPeer } from '../wire/msg-peer.js';
import type { BootstrapSpec } from './config.js';
import { parseHostPort } from './config.js';
import type { FrameDestination } from './frame-endpoint.js';
import type { Logger } from './log.js';
import type { PeerAddress } from './transport.js';
import { addressKey } from './transport.js';

/** The peer-management messages of the wire codec (wire/msg-peer.ts). */
export type PeerMessage = PingMessage | PongMessage | IdentityMessage;

export type PeerState = 'unverified' | 'verifying' | 'identified' | 'connected' | 'failed';

export interface PeerView {
  readonly publicKey: string;
  readonly address: string;
  readonly endpoint: string;
  readonly state: PeerState;
  readonly bootstrap: boolean;
  readonly lastSeenMs: number;
  readonly failure?: string;
}

interface Peer {
  readonly publicKey: Uint8Array;
  readonly pkHex: string;
  endpoint: PeerAddress | null;
  bootstrap: boolean;
  state: PeerState;
  address: Uint8Array | null;
  addressHex: string | null;
  /** Hex of the record that verified (or is being verified, or last failed). */
  recordHex: string | null;
  /** The record that verified for this peer's current address: what REFERRALs hand out. */
  verified: IdentityRecord | null;
  lastSeenMs: number;
  lastPingMs: number;
  lastIdentitySentMs: number;
  pingToken: string | null;
  failure: string | null;
  failedAtMs: number;
}

export interface PeerManagerModules {
  /** Queue one message to a peer (`initiate`: a first contact we chose, see AmplificationGuard). */
  readonly send: (to: FrameDestination, message: PeerMessage, initiate: boolean) => void;
  /** Verifies a record off the event loop (the result is cached here per record). */
  readonly verify: (record: IdentityRecord) => Promise<IdentityVerifyResult>;
  /** A PONG echoed our PING token: the address receives our frames. */
  readonly validateAddress: (address: PeerAddress) => void;
  /** Whether `address` has proved that it receives our frames (absent: never assumed). */
  readonly validated?: (address: PeerAddress) => boolean;
  readonly random: (n: number) => Uint8Array;
  readonly clock: () => number;
  readonly log: Logger;
}

export interface PeerManagerOptions {
  readonly publicKey: Uint8Array;
  /** Our identity record, sent to every peer we talk to. */
  readonly identity: IdentityRecord;
  readonly bootstrap: readonly BootstrapSpec[];
  /** Called with the Connected and Pending addresses whenever the sets change. */
  readonly onPeersChanged: (connected: Uint8Array[], pending: Uint8Array[]) => void;
  readonly maintenanceMs?: number;
  /** IDENTITY goes to one peer at most this often; unconnected bootstrap peers are greeted (PING + IDENTITY) at each maintenance no sooner. */
  readonly greetMs?: number;
  /** Connected peers are pinged this often (keep-alive, endpoint refresh). */
  readonly keepAliveMs?: number;
  /** A failed identity is re-verified no sooner than this (it may have been our clock). */
  readonly retryFailedMs?: number;
  readonly maxPeers?: number;
  /** The peer lifecycle decides the Connected set; each verified identity's address goes here. */
  readonly elections: {
    readonly onVerified: (address: Uint8Array) => void;
    readonly onTraffic: (address: Uint8Array) => void;
    /** A verified peer left the table (evicted to make room). */
    readonly onForgotten: (address: Uint8Array) => void;
  };
}

export const PEER_LIMITS = {
  maxPeers: 1024,
  maintenanceMs: 500,
  greetMs: 500,
  keepAliveMs: 5_000,
  retryFailedMs: 10_000,
  /** Identity verifications in flight at once (the Argon2 pool queues behind this). */
  maxVerifying: 64,
  maxNodeJsonBytes: 16 * 1024,
  /** Referred records that failed verification, remembered so they are not checked again. */
  refusedRecords: 4096,
  /**
   * A bootstrap node.json that has resolved is re-read this often (one that has not, on every
   * maintenance round). Each read is four file operations on the thread pool, and an idle daemon
   * pays for every wake-up; a restarted peer that speaks first is found at once anyway
   * (endpoints roam).
   */
  fileRecheckMs: 30_000,
  /** A verified but not Connected peer silent this long may be evicted from a full table. */
  idleEvictMs: 60_000,
} as const;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export class PeerManager {
  private readonly byKey = new Map<string, Peer>();
  private readonly byAddress = new Map<string, Peer>();
  private readonly verified = new Map<string, IdentityVerifyResult>();
  private started = false;
  private maintainedAt = 0;
  private verifying = 0;
  private stopped = false;
  private resolving = false;
  /** file path → last text read (unchanged files are not re-applied). */
  private readonly fileSeen = new Map<string, string>();
  /** file path → when it was last read after it had resolved. */
  private readonly fileReadAt = new Map<string, number>();
  private readonly ownHex: string;
  /** Encoded records (hex) that failed verification when a referral named them. */
  private readonly refused = new Set<string>();
  /** Keys a verified fraud proof names (daemon/evidence.ts): never Connected, all traffic dropped. */
  private readonly banned = new Set<string>();
  private observed: PeerAddress | null = null;
  /** Peers evicted to make room in a full table. */
  evicted = 0;
  private readonly maintenanceMs: number;
  private readonly greetMs: number;
  private readonly keepAliveMs: number;
  private readonly retryFailedMs: number;
  private readonly maxPeers: number;

  constructor(
    private readonly mods: PeerManagerModules,
    private readonly opts: PeerManagerOptions,
  ) {
    this.ownHex = hex(opts.publicKey);
    this.maintenanceMs = opts.maintenanceMs ?? PEER_LIMITS.maintenanceMs;
    this.greetMs = opts.greetMs ?? PEER_LIMITS.greetMs;
    this.keepAliveMs = opts.keepAliveMs ?? PEER_LIMITS.keepAliveMs;
    this.retryFailedMs = opts.retryFailedMs ?? PEER_LIMITS.retryFailedMs;
    this.maxPeers = opts.maxPeers ?? PEER_LIMITS.maxPeers;
    for (const b of opts.bootstrap) {
      if (b.kind === 'static') this.addBootstrap(b.publicKey, b.endpoint);
    }
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.maintainedAt = this.mods.clock();
    this.maintain();
  }

  /**
   * Greetings, keep-alives and bootstrap files, once every `maintenanceMs`. The daemon calls this
   * each tick, so it needs no timer of its own (a quiet daemon ticks once a second).
   */
  tick(): void {
    if (!this.started || this.stopped) return;
    const now = this.mods.clock();
    if (now - this.maintainedAt < this.maintenanceMs) return;
    this.maintainedAt = now;
    this.maintain();
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * Bans a key for good: it leaves the table (and the Connected set), everything it sends is
   * dropped, and it is never added again, even as a bootstrap peer. False when it was already
   * banned or is our own key.
   */
  ban(publicKey: Uint8Array): boolean {
    const k = hex(publicKey);
    if (k === this.ownHex || this.banned.has(k)) return false;
    this.banned.add(k);
    const p = this.byKey.get(k);
    if (p !== undefined) {
      this.byKey.delete(k);
      // The lifecycle forgot it first and applied its sets (daemon/node.ts).
      if (p.addressHex !== null && this.byAddress.get(p.addressHex) === p) this.byAddress.delete(p.addressHex);
    }
    return true;
  }

  isBanned(publicKey: Uint8Array): boolean {
    return this.banned.has(hex(publicKey));
  }

  /** The verified identity record of a key, when it has one. */
  identityOf(publicKey: Uint8Array): IdentityRecord | undefined {
    const p = this.byKey.get(hex(publicKey));
    return p === undefined || p.address === null ? undefined : (p.verified ?? undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Lookups.

  /** The verified ring address of a sender key, or undefined. */
  addressOf(publicKey: Uint8Array): Uint8Array | undefined {
    const p = this.byKey.get(hex(publicKey));
    return p?.address ?? undefined;
  }

  /** Where to send a message for a ring address. */
  destination(address: Uint8Array): FrameDestination | undefined {
    const p = this.byAddress.get(hex(address));
    if (p === undefined || p.endpoint === null) return undefined;
    return { publicKey: p.publicKey, address: p.endpoint };
  }

  /** Where to send a message for a frame key (any known peer with an endpoint). */
  destinationOfKey(publicKey: Uint8Array): FrameDestination | undefined {
    const p = this.byKey.get(hex(publicKey));
    if (p === undefined || p.endpoint === null) return undefined;
    return { publicKey: p.publicKey, address: p.endpoint };
  }

  /** The frame key of the peer at a ring address. */
  publicKeyOf(address: Uint8Array): Uint8Array | undefined {
    return this.byAddress.get(hex(address))?.publicKey;
  }

  /**
   * Up to `count` Connected peers closest to `key` on the ring (not `exclude`, a frame key), with
   * their verified identity records and endpoints: the body of a REFERRAL (PROTOCOL §7).
   */
  referrals(key: Uint8Array, count: number, exclude: Uint8Array): ReferredPeer[] {
    const ex = hex(exclude);
    const k = hex(key);
    const scored: { d: bigint; record: IdentityRecord; endpoint: WireEndpoint }[] = [];
    for (const p of this.byKey.values()) {
      if (p.state !== 'connected' || p.addressHex === null || p.endpoint === null || p.verified === null || p.pkHex === ex) continue;
      const endpoint = endpointFromHost(p.endpoint.host, p.endpoint.port);
      if (endpoint !== null) scored.push({ d: ringDistance(p.addressHex, k), record: p.verified, endpoint });
    }
    scored.sort((x, y) => (x.d < y.d ? -1 : x.d > y.d ? 1 : 0));
    return scored.slice(0, count).map((s) => ({ identity: s.record, endpoint: s.endpoint }));
  }


  /** The verified records and endpoints of peers at these ring addresses: the body of a REFERRAL. */
  referralsFor(addresses: readonly Uint8Array[]): ReferredPeer[] {
    const out: ReferredPeer[] = [];
    for (const a of addresses) {
      const p = this.byAddress.get(hex(a));
      if (p === undefined || p.endpoint === null || p.verified === null) continue;
      const endpoint = endpointFromHost(p.endpoint.host, p.endpoint.port);
      if (endpoint !== null) out.push({ identity: p.verified, endpoint });
    }
    return out;
  }

  /**
   * A peer named in a REFERRAL: its record is verified first and only a verified identity enters
   * the table (a flood of records of another network or below the difficulty leaves it as it
   * was); then it is greeted so that it knows us before we ask it anything.
   */
  introduce(record: IdentityRecord, endpoint: PeerAddress): void {
    const k = hex(record.publicKey);
    if (k === this.ownHex || this.banned.has(k) || this.byKey.has(k) || this.verifying >= PEER_LIMITS.maxVerifying) return;
    let rh: string;
    try {
      rh = identityFieldProblem(record) === null ? hex(encodeIdentity(record)) : '';
    } catch {
      return;
    }
    // A record that failed once is not checked again (the cache forgets when full).
    if (rh === '' || this.refused.has(rh)) return;
    this.verifying++;
    this.mods
      .verify(record)
      .catch((): IdentityVerifyResult => ({ ok: false, code: 'ENGINE_ERROR', reason: 'verification failed' }))
      .then((r) => {
        this.verifying--;
        if (!r.ok) {
          if (this.refused.size >= PEER_LIMITS.refusedRecords) this.refused.clear();
          this.refused.add(rh);
          return;
        }
        if (this.stopped || this.byKey.has(k) || this.banned.has(k)) return;
        if (this.byKey.size >= this.maxPeers && !this.evictOne()) return;
        const p = this.newPeer(record.publicKey, endpoint, false);
        if (this.verified.size > 4 * this.maxPeers) this.verified.clear();
        this.verified.set(rh, r);
        this.verifiedAs(p, rh, r);
        this.ping(p);
        this.sendIdentity(p, true);
      })
      .catch((err: unknown) => this.mods.log.error({ err: (err as Error)?.message ?? String(err) }, 'introducing a referred peer failed'));
  }

  /** The lifecycle's Connected and Pending sets (by ring address); every other verified peer is Identified. */
  applyStates(connected: readonly Uint8Array[], pending: readonly Uint8Array[]): void {
    const want = new Set(connected.map(hex));
    for (const p of this.byKey.values()) {
      if (p.addressHex === null) continue;
      if (want.has(p.addressHex)) p.state = 'connected';
      else if (p.state === 'connected') p.state = 'identified';
    }
    const addresses: Uint8Array[] = [];
    for (const p of this.byKey.values()) if (p.state === 'connected' && p.address !== null) addresses.push(p.address);
    this.opts.onPeersChanged(addresses, pending.filter((a) => this.byAddress.has(hex(a))));
  }

  /** Ring addresses of the Connected peers. */
  connectedAddresses(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const p of this.byKey.values()) if (p.state === 'connected' && p.address !== null) out.push(p.address);
    return out;
  }

  /** Frame keys of the Connected peers. */
  connectedKeys(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const p of this.byKey.values()) if (p.state === 'connected') out.push(p.publicKey);
    return out;
  }

  isConnected(address: Uint8Array): boolean {
    return this.byAddress.get(hex(address))?.state === 'connected';
  }

  counts(): { connected: number; known: number } {
    let connected = 0;
    for (const p of this.byKey.values()) if (p.state === 'connected') connected++;
    return { connected, known: this.byKey.size };
  }

  /** The address peers see us at (from PONGs), if any answered yet. */
  observedAddress(): PeerAddress | null {
    return this.observed;
  }

  list(): PeerView[] {
    const now = this.mods.clock();
    return [...this.byKey.values()].map((p) => ({
      publicKey: p.pkHex,
      address: p.addressHex ?? '',
      endpoint: p.endpoint === null ? '' : addressKey(p.endpoint),
      state: p.state,
      bootstrap: p.bootstrap,
      lastSeenMs: p.lastSeenMs === 0 ? -1 : Math.max(0, now - p.lastSeenMs),
      ...(p.failure === null ? {} : { failure: p.failure }),
    }));
  }

  // -------------------------------------------------------------------------------------------
  // Input.

  /**
   * Any authenticated frame from `publicKey` at `from` (call before handling its messages):
   * refreshes keep-alive and the endpoint. A full table makes room by evicting the stalest
   * non-bootstrap peer that never verified (or failed), or that verified but has been silent for
   * `idleEvictMs`; returns false when there is none (the table is full of live peers).
   */
  noteTraffic(publicKey: Uint8Array, from: PeerAddress): boolean {
    const k = hex(publicKey);
    if (k === this.ownHex || this.banned.has(k)) return false;
    let p = this.byKey.get(k);
    if (p === undefined) {
      if (this.byKey.size >= this.maxPeers && !this.evictOne()) return false;
      p = this.newPeer(publicKey, from, false);
    }
    p.lastSeenMs = this.mods.clock();
    if (p.address !== null) this.opts.elections.onTraffic(p.address);
    if (p.endpoint === null || addressKey(p.endpoint) !== addressKey(from)) {
      if (p.endpoint !== null) this.mods.log.info({ peer: p.pkHex.slice(0, 16), from: addressKey(p.endpoint), to: addressKey(from) }, 'peer endpoint changed');
      p.endpoint = from;
    }
    return true;
  }

  /** A peer-management message (after noteTraffic). */
  receive(publicKey: Uint8Array, from: PeerAddress, m: PeerMessage): void {
    const p = this.byKey.get(hex(publicKey));
    if (p === undefined) return;
    const now = this.mods.clock();
    switch (m.type) {
      case 'ping': {
        const observed = endpointFromHost(from.host, from.port);
        if (observed !== null) this.mods.send({ publicKey: p.publicKey, address: from }, { type: 'pong', nonce: m.nonce, observed }, false);
        // A peer that pings us may not know us yet (it may have restarted): introduce ourselves
        // (rate limited).
        if (now - p.lastIdentitySentMs >= this.greetMs) this.sendIdentity(p, false);
        // And prove its address in turn: until it answers a PING of ours, everything we send it
        // is capped at 3× what it sent (no-amplification rule), which an ANSWER to its query
        // would exceed. Bootstrap peers are pinged by the maintenance loop already.
        const proven = this.mods.validated?.(from) === true;
        if (!proven && !p.bootstrap && p.endpoint !== null && (p.lastPingMs === 0 || now - p.lastPingMs >= this.keepAliveMs)) this.ping(p);
        return;
      }
      case 'pong':
        if (p.pingToken !== null && p.pingToken === hex(m.nonce)) {
          p.pingToken = null;
          this.mods.validateAddress(from);
          const observed = { host: endpointHost(m.observed), port: m.observed.port };
          if (this.observed === null || addressKey(this.observed) !== addressKey(observed)) {
            this.observed = observed;
            this.mods.log.debug({ observed: addressKey(observed), by: p.pkHex.slice(0, 16) }, 'observed address');
          }
        }
        return;
      case 'identity':
        this.onIdentity(p, m.record);
        return;
    }
  }

  /**
   * Throwaway keys cost an attacker one key agreement each (500/s for everyone): without eviction
   * 1 024 of them would lock every new peer out for good. Bootstrap, Connected and verifying
   * peers are never evicted.
   */
  private evictOne(): boolean {
    const now = this.mods.clock();
    let victim: Peer | undefined;
    for (const p of this.byKey.values()) {
      if (p.bootstrap || p.state === 'connected' || p.state === 'verifying') continue;
      if (p.state === 'identified' && now - p.lastSeenMs < PEER_LIMITS.idleEvictMs) continue;
      if (victim === undefined || p.lastSeenMs < victim.lastSeenMs) victim = p;
    }
    if (victim === undefined) return false;
    this.byKey.delete(victim.pkHex);
    if (victim.addressHex !== null && this.byAddress.get(victim.addressHex) === victim) this.byAddress.delete(victim.addressHex);
    if (victim.address !== null) this.opts.elections.onForgotten(victim.address);
    this.evicted++;
    return true;
  }

  // -------------------------------------------------------------------------------------------

  private newPeer(publicKey: Uint8Array, endpoint: PeerAddress | null, bootstrap: boolean): Peer {
    const p: Peer = {
      publicKey: Uint8Array.from(publicKey),
      pkHex: hex(publicKey),
      endpoint,
      bootstrap,
      state: 'unverified',
      address: null,
      addressHex: null,
      recordHex: null,
      verified: null,
      lastSeenMs: 0,
      lastPingMs: 0,
      lastIdentitySentMs: 0,
      pingToken: null,
      failure: null,
      failedAtMs: 0,
    };
    this.byKey.set(p.pkHex, p);
    return p;
  }

  private addBootstrap(publicKey: Uint8Array, endpoint: PeerAddress): void {
    const k = hex(publicKey);
    if (k === this.ownHex || this.banned.has(k)) return;
    const p = this.byKey.get(k);
    if (p === undefined) {
      this.newPeer(publicKey, endpoint, true);
      return;
    }
    if (p.endpoint === null || addressKey(p.endpoint) !== addressKey(endpoint)) p.endpoint = endpoint;
    p.bootstrap = true;
  }

  private onIdentity(p: Peer, record: IdentityRecord): void {
    let rh: string;
    try {
      rh = identityFieldProblem(record) === null ? hex(encodeIdentity(record)) : '';
    } catch {
      rh = '';
    }
    if (rh === '') {
      this.fail(p, 'malformed', 'malformed identity record');
      return;
    }
    if (p.recordHex === rh && (p.state === 'verifying' || p.state === 'identified' || p.state === 'connected')) return;
    if (p.state === 'failed' && p.recordHex === rh && this.mods.clock() - p.failedAtMs < this.retryFailedMs) return;
    if (hex(record.publicKey) !== p.pkHex) {
      this.fail(p, rh, 'identity record is for another key than the frame sender');
      return;
    }
    const cached = this.verified.get(rh);
    if (cached !== undefined && cached.ok) {
      this.verifiedAs(p, rh, cached);
      return;
    }
    if (this.verifying >= PEER_LIMITS.maxVerifying) return; // asked again on the next greeting
    p.recordHex = rh;
    const before = p.state;
    // A peer that already verified keeps its state (and its vote) while a newer record is checked.
    if (before !== 'connected' && before !== 'identified') p.state = 'verifying';
    this.verifying++;
    this.mods
      .verify(record)
      .then(
        (r) => r,
        (err: unknown): IdentityVerifyResult => ({ ok: false, code: 'ENGINE_ERROR', reason: String((err as Error)?.message ?? err) }),
      )
      .then((r) => {
        this.verifying--;
        if (this.stopped) return;
        if (p.recordHex !== rh || this.banned.has(p.pkHex)) return; // superseded by a newer record, or banned meanwhile
        if (r.ok) {
          if (this.verified.size > 4 * this.maxPeers) this.verified.clear();
          this.verified.set(rh, r);
          this.verifiedAs(p, rh, r);
        } else {
          p.state = before === 'verifying' ? 'unverified' : before;
          this.fail(p, rh, `${r.code}: ${r.reason}`);
        }
      });
  }

  private verifiedAs(p: Peer, rh: string, r: IdentityVerifyResult & { ok: true }): void {
    const ah = hex(r.address);
    const holder = this.byAddress.get(ah);
    if (holder !== undefined && holder !== p) {
      this.fail(p, rh, 'another key already holds this address');
      return;
    }
    if (p.addressHex !== null && p.addressHex !== ah) this.byAddress.delete(p.addressHex);
    p.recordHex = rh;
    p.verified = r.record;
    p.address = Uint8Array.from(r.address);
    p.addressHex = ah;
    p.failure = null;
    this.byAddress.set(ah, p);
    this.mods.log.info({ peer: p.pkHex.slice(0, 16), address: ah.slice(0, 16), bootstrap: p.bootstrap }, 'peer identity verified');
    if (p.state !== 'connected') p.state = 'identified';
    this.opts.elections.onVerified(p.address);
  }

  private fail(p: Peer, rh: string, reason: string): void {
    p.recordHex = rh;
    p.failure = reason;
    p.failedAtMs = this.mods.clock();
    if (p.address === null) p.state = 'failed';
    this.mods.log.warn({ peer: p.pkHex.slice(0, 16), reason }, 'peer identity refused');
  }

  private sendIdentity(p: Peer, initiate: boolean): void {
    if (p.endpoint === null) return;
    p.lastIdentitySentMs = this.mods.clock();
    this.mods.send({ publicKey: p.publicKey, address: p.endpoint }, { type: 'identity', record: this.opts.identity }, initiate);
  }

  private ping(p: Peer): void {
    if (p.endpoint === null) return;
    const nonce = this.mods.random(16);
    p.pingToken = hex(nonce);
    p.lastPingMs = this.mods.clock();
    this.mods.send({ publicKey: p.publicKey, address: p.endpoint }, { type: 'ping', nonce }, true);
  }

  private maintain(): void {
    if (this.stopped) return;
    try {
      void this.resolveFiles();
      const now = this.mods.clock();
      for (const p of this.byKey.values()) this.keepUp(p, now);
    } catch (err) {
      this.mods.log.error({ err: (err as Error)?.message ?? String(err) }, 'peer maintenance failed');
    }
  }

  /**
   * A Connected peer not heard from for a keep-alive period is pinged (the lifecycle drops those
   * that stay silent): of two peers that keep each other alive, one pings and the other answers
   * in each period. Bootstrap peers are greeted until their identity verifies.
   */
  private keepUp(p: Peer, now: number): void {
    if (p.endpoint === null) return;
    if (p.state === 'connected') {
      if (now - p.lastPingMs >= this.keepAliveMs && now - p.lastSeenMs >= this.keepAliveMs) this.ping(p);
    } else if (p.bootstrap && p.address === null && now - p.lastPingMs >= this.greetMs) {
      this.ping(p);
      this.sendIdentity(p, true);
    }
  }

  /** Re-reads bootstrap node.json files; a change of key or endpoint is applied. */
  private async resolveFiles(): Promise<void> {
    if (this.resolving) return;
    this.resolving = true;
    try {
      for (const b of this.opts.bootstrap) {
        if (b.kind !== 'file') continue;
        let path = b.path;
        const now = this.mods.clock();
        if (this.fileSeen.has(b.path) && now - (this.fileReadAt.get(b.path) ?? 0) < PEER_LIMITS.fileRecheckMs) continue;
        if (this.fileSeen.has(b.path)) this.fileReadAt.set(b.path, now);
        try {
          if ((await stat(path)).isDirectory()) path = join(path, 'node.json');
          const text = await readFile(path, 'utf8');
          if (text.length > PEER_LIMITS.maxNodeJsonBytes || this.fileSeen.get(b.path) === text) continue;
          const o = JSON.parse(text) as Record<string, unknown>;
          const pk = o['publicKey'];
          const udp = o['udp'];
          if (typeof pk !== 'string' || !/^[0-9a-f]{64}$/i.test(pk) || typeof udp !== 'string') continue;
          const endpoint = parseHostPort(udp, path);
          this.fileSeen.set(b.path, text);
          this.addBootstrap(new Uint8Array(Buffer.from(pk, 'hex')), endpoint);
        } catch {
          // Not there yet, or half written: try again on the next round.
        }
      }
    } finally {
      this.resolving = false;
    }
  }
}
