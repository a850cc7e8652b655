/**
 * One ecd daemon: a composition root. The protocol composition the simulator runs on every peer
 * (CoreNode: the consensus core over its store) gets real UDP (FrameEndpoint over UdpTransport),
 * real time (a tick every profile tick), real crypto and a real store (LMDB).
 *
 *   UDP ─▶ FrameEndpoint (§3 receive order) ─▶ onMessage
 *            ├─ ping / pong / identity ─▶ PeerManager (identity verified on the Argon2 pool)
 *            └─ consensus messages from verified peers ─▶ CoreNode.receive ─▶ take(output)
 *   control API ─▶ CoreNode.submit ─▶ take(output)
 *   timer (50 ms) ─▶ CoreNode.tick ─▶ take(output)
 *
 * Rounds: each tick opens a round. The socket is read only from the tick until it is drained (at
 * most half a tick); everything read is handed to the core, then the tick's work runs (waves,
 * commits, polls), so what arrived since the last tick is decided in this one, and the consensus
 * messages of the round (the answers and the tick's) are held and leave together at its end,
 * packed per receiver. Between rounds the process sleeps and arriving datagrams wait in the kernel
 * buffer instead of waking it for each one. A hop costs the wait for the receiver's next tick,
 * half a tick on average; in return, under load, frames and CPU per commit fall by about half
 * (`ecd bench cluster`). Where the socket cannot be paused (`UdpTransport.setReading`) or the
 * kernel capped its receive buffer, it is read continuously and nothing is held.
 *
 * CoreNode keeps the core's contract: the storage batch is applied (one durable transaction)
 * before `take(output)` queues any message of the same output, so a committed vote never leaves
 * before the commit it acknowledges is on disk. The sender key's verified ring address is the
 * `from` the core sees; the frame's packet number is the vote order.
 *
 * Lifecycle (STYLE §3): `EcdNode.create(config, log)` loads everything, `start()` binds the
 * socket and the API and starts the timers, `stop()` stops ticking, flushes the queued frames,
 * closes the socket, the API, the Argon2 pool and the store, in that order. Idempotent.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Argon2idEngine } from '../kernels/types.js';
import { Argon2idPool } from '../kernels/argon2/pool.js';
import { loadCrypto, type CryptoKernels } from '../kernels/crypto.js';
import type { ConsensusEvent, Output } from '../consensus/peer.js';
import { CoreNode } from './core-node.js';
import { paramsFromProfile, type ConsensusParams } from '../consensus/params.js';
import type { Message } from '../consensus/messages.js';
import { toHex } from '../consensus/hex.js';
import type { SignedBlock } from '../wire/block.js';
import { bytesEqual, encodeSignedBlock, isZero } from '../wire/block.js';
import type { MessageCodec } from '../wire/frame.js';
import { wireCodec, type WireMessage } from '../wire/codec.js';
import { verifyIdentity, type IdentityRecord, type IdentityVerifyResult } from '../wire/identity.js';
import { identityFileProblem, parseIdentityFile, MAX_JSON_FILE_BYTES } from '../wire/identity-file.js';
import { profileByName, profileByNetworkId, type NetworkProfile } from '../wire/profiles.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/types.js';
import { openLmdbStore } from '../store/lmdb.js';
import { ApiServer, ApiUnavailable, type ApiBackend, type BlockAnswer, type SubmitResult } from './api.js';
import type { NodeConfig } from './config.js';
import { endpointProfileOptions, FrameEndpoint, type FrameSource } from './frame-endpoint.js';
import type { Logger } from './log.js';
import { NodeMetrics, renderMetrics, type StoreStatsLike } from './metrics.js';
import { processMetricsText, startProcessMetrics } from './process-metrics.js';
import { frameIdentityFromSeed } from './pair-keys.js';
import { PeerManager, type PeerMessage } from './peers.js';
import { TokenQueries, TokenQueryError, type QueryTarget } from './token-query.js';
import { Elections } from './elections.js';
import { SyncDriver } from './sync.js';
import { decodeKnownPeers, encodeKnownPeers, KNOWN_PEERS } from './known-peers.js';
import { Evidence } from './evidence.js';
import { decodeEvidenceFile } from '../wire/evidence-file.js';
import { EvidenceBook, snapshotFromStore, statementView, type EvidenceWrite } from '../store/evidence.js';
import { LmdbStore } from '../store/lmdb.js';
import { JobBook, MemoryJobKv, type JobKv } from '../store/jobs.js';
import { JobClient } from './jobs/client.js';
import { JobProvider } from './jobs/provider.js';
import { JobsApi } from './jobs/api.js';
import { EngineContainerHost } from './container-host.js';
import type { JobMessage } from '../wire/msg-jobs.js';
import type { SyncAskMessage, SyncReplyMessage } from '../wire/msg-sync.js';
import { UdpTransport, addressKey } from './transport.js';

export const ECD_VERSION = '0.1.0';

/** Everything that crosses the wire: consensus messages and peer management (wire/codec.ts). */
export type NodeMessage = WireMessage;

/** The wire codec (wire/codec.ts). */
export async function loadWireCodec(): Promise<MessageCodec<NodeMessage>> {
  return wireCodec();
}

const CONSENSUS_TYPES = new Set(['vote', 'initial-vote', 'query-block', 'block', 'batch']);
/** Kept statements listed by GET /v1/evidence. */
const MAX_EVIDENCE_LISTED = 1_000;
const PEER_TYPES = new Set(['ping', 'pong', 'identity']);
/** A round reads for at most this share of a tick before the tick's work runs (a flood must not hold the tick back). */
const ROUND_READ_SHARE = 0.5;
/** A quiet daemon's tick period (docs/network.md, LIMITS.md). */
const QUIET_TICK_MS = 1_000;
const JOB_TYPES = new Set(['job-offer', 'job-submit', 'job-accept', 'job-refuse', 'job-status', 'job-query', 'job-receipt', 'job-output']);
const TERMINAL_EVENTS = new Set(['committed', 'blocked', 'invalid', 'expired']);
/** Locally submitted blocks whose commit latency is being measured. */
const MAX_LATENCY_TRACKED = 65_536;

export interface NodeModules {
  readonly crypto: CryptoKernels;
  readonly codec: MessageCodec<NodeMessage>;
  readonly store: Store;
  readonly argon2: Argon2idEngine;
}

export interface LoadedIdentity {
  readonly seed: Uint8Array;
  readonly record: IdentityRecord;
  readonly publicKey: Uint8Array;
  readonly address: Uint8Array;
  readonly profile: NetworkProfile;
}

export class NodeStartError extends Error {
  override readonly name = 'NodeStartError';
}

interface StoreWithStats extends Store {
  stats?: () => StoreStatsLike;
}

async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

/**
 * Reads `<dataDir>/api-token`, creating it (32 random bytes, hex, mode 0600) when absent. The file
 * appears complete or not at all (written aside, then linked in place), and one that group or
 * others may read is refused, as ssh refuses a readable key.
 */
export async function ensureApiToken(dataDir: string): Promise<string> {
  const path = join(dataDir, 'api-token');
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) throw new NodeStartError(`${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
    const t = (await readFile(path, 'utf8')).trim();
    if (!/^[0-9a-f]{64}$/.test(t)) throw new NodeStartError(`${path} is not 64 lowercase hex digits; delete it to get a new token`);
    return t;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('hex');
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${token}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return ensureApiToken(dataDir);
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return token;
}

/** Loads and verifies the node's own identity file (its seed must be in it). */
export async function loadOwnIdentity(
  config: Pick<NodeConfig, 'identityFile' | 'profile'>,
  crypto: CryptoKernels,
  argon2: Argon2idEngine,
): Promise<LoadedIdentity> {
  let text: string;
  try {
    text = await readFile(config.identityFile, 'utf8');
  } catch (err) {
    throw new NodeStartError(`cannot read identity file ${config.identityFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (mine one with: ecd mine --out FILE)`);
  }
  if (text.length > MAX_JSON_FILE_BYTES) throw new NodeStartError(`${config.identityFile} is too large to be an identity file`);
  const parsed = parseIdentityFile(text);
  if (!parsed.ok) throw new NodeStartError(`${config.identityFile}: ${parsed.reason}`);
  const f = parsed.value;
  if (f.secretSeed === null) throw new NodeStartError(`${config.identityFile} has no secret_seed: a daemon needs its own identity file`);
  const signer = crypto.ed25519.signerFromSeed(f.secretSeed);
  if (!bytesEqual(signer.publicKey, f.record.publicKey)) throw new NodeStartError(`${config.identityFile}: secret_seed does not belong to public_key`);
  const profile = config.profile !== undefined ? profileByName(config.profile) : ((f.profile === null ? undefined : profileByName(f.profile)) ?? profileByNetworkId(f.record.networkId));
  if (profile === undefined) throw new NodeStartError(`${config.identityFile}: no known profile for network ${f.record.networkId}; pass --profile`);
  if (profile.networkId !== f.record.networkId) {
    throw new NodeStartError(`${config.identityFile} is for network ${f.record.networkId}, but profile ${profile.name} is network ${profile.networkId}`);
  }
  const v = await verifyIdentity({ ed25519: crypto.ed25519, blake3: crypto.blake3, argon2 }, f.record, { profile, now: Math.floor(Date.now() / 1000) });
  if (!v.ok) throw new NodeStartError(`own identity ${config.identityFile} does not verify: ${v.reason}`);
  const fileProblem = identityFileProblem(crypto.ed25519, f, v.address, f.profile === null ? undefined : profileByName(f.profile)?.networkId);
  if (fileProblem !== null) throw new NodeStartError(`${config.identityFile}: ${fileProblem.reason}`);
  return { seed: f.secretSeed, record: f.record, publicKey: f.record.publicKey, address: v.address, profile };
}

export class EcdNode implements ApiBackend {
  readonly metrics = new NodeMetrics();
  /** The protocol composition (consensus core over the store); the rest of this class is I/O. */
  readonly core: CoreNode;
  readonly peers: PeerManager;
  readonly queries: TokenQueries;
  readonly elections: Elections;
  readonly sync: SyncDriver;
  readonly evidence: Evidence;
  private readonly book: EvidenceBook;
  /** Compute jobs: the client side always, the provider side with a container host. */
  readonly jobs: JobClient;
  readonly provider: JobProvider | null;
  readonly jobsApi: JobsApi;
  readonly endpoint: FrameEndpoint<NodeMessage>;
  private readonly transport: UdpTransport;
  private readonly api: ApiServer;
  private readonly listeners = new Set<() => void>();
  private readonly submittedAt = new Map<string, number>();
  private readonly params: ConsensusParams;
  private tickTimer: NodeJS.Timeout | null = null;
  /** Rounds are on (the socket can be paused); consensus messages are then held to the round's end. */
  private rounds = false;
  /** A tick is due at the round's end: the ticks it stands for (0: none). */
  private tickElapsed = 0;
  /** The socket is being read (always without rounds; with rounds, during one and while quiet). */
  private reading = true;
  private nextTickAt = 0;
  private lastTickAt = 0;
  /** When the scheduled tick timer is due (its lateness is the event-loop delay). */
  private tickDueAt = 0;
  /** Nothing in flight at the last tick: the next one comes QUIET_TICK_MS later unless a message wakes us. */
  private quiet = false;
  /** When the daemon went quiet (the last tick), until the next tick counts the ticks skipped. */
  private quietSince: number | null = null;
  private startedAt = 0;
  private knownPeersSavedAt = 0;
  /** Frame keys (hex) of the peers.json peers not verified yet: once they are, they are invited again. */
  private readonly formerPeers = new Set<string>();
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopPromise: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  private fatal: ((err: Error) => void) | null = null;

  private constructor(
    readonly config: NodeConfig,
    readonly identity: LoadedIdentity,
    private readonly mods: NodeModules,
    private readonly log: Logger,
    apiToken: string,
  ) {
    const profile = identity.profile;
    const crypto = mods.crypto;
    this.transport = new UdpTransport({ host: config.listen.host, port: config.listen.port, onError: (err) => log.warn({ err: err.message }, 'UDP socket error') });
    this.endpoint = new FrameEndpoint<NodeMessage>(
      { transport: this.transport, crypto, codec: mods.codec },
      { identity: frameIdentityFromSeed(crypto.ed25519, identity.seed), ...endpointProfileOptions(profile) },
    );
    this.endpoint.onMessage((m, src) => this.onMessage(m, src));
    this.endpoint.onReject((key, from, code) => log.debug({ peer: toHex(key).slice(0, 16), from: addressKey(from), code }, 'frame rejected at decode'));
    this.params = paramsFromProfile(profile);
    this.core = new CoreNode(
      { crypto: { blake3: crypto.blake3, ed25519: crypto.ed25519 }, store: mods.store, random: (n) => new Uint8Array(randomBytes(n)) },
      { address: identity.address, params: this.params },
    );
    this.peers = new PeerManager(
      {
        send: (to, message, initiate) => {
          NodeMetrics.bump(this.metrics.messagesOut, message.type);
          this.endpoint.queue(to, message, { initiate });
        },
        verify: (record) => this.verifyPeer(record),
        validateAddress: (a) => this.endpoint.validateAddress(a),
        validated: (a) => this.endpoint.addressState(a) === 'validated',
        random: (n) => new Uint8Array(randomBytes(n)),
        clock: Date.now,
        log: log.child({ mod: 'peers' }),
      },
      {
        publicKey: identity.publicKey,
        identity: identity.record,
        bootstrap: config.bootstrap,
        onPeersChanged: (connected, pending) => {
          this.core.setPeers(connected, pending);
          log.debug({ connected: connected.length, pending: pending.length }, 'connected peers changed');
        },
        elections: {
          onVerified: (a) => {
            this.elections.learn(a);
            const k = this.peers.publicKeyOf(a);
            if (k !== undefined && this.formerPeers.delete(toHex(k))) this.elections.rejoin(a);
          },
          onTraffic: (a) => this.elections.heard(a),
          onForgotten: (a) => this.elections.forget(a),
        },
      },
    );
    // Queues a message to the peer with this frame key (a first contact we chose); false when unroutable.
    const sendKey = (publicKey: Uint8Array, message: NodeMessage): boolean => {
      const dest = this.peers.destinationOfKey(publicKey);
      if (dest === undefined) return false;
      NodeMetrics.bump(this.metrics.messagesOut, message.type);
      this.endpoint.queue(dest, message, { initiate: true });
      return true;
    };
    this.elections = new Elections({
      blake3: crypto.blake3,
      ed25519: crypto.ed25519,
      signer: crypto.ed25519.signerFromSeed(identity.seed),
      address: identity.address,
      profile,
      store: mods.store,
      peers: this.peers,
      send: sendKey,
      random: (n) => new Uint8Array(randomBytes(n)),
      clock: Date.now,
      nostore: config.unsafeMisbehave?.kind === 'nostore',
    });
    this.sync = new SyncDriver({
      blake3: crypto.blake3,
      networkId: profile.networkId,
      store: mods.store,
      address: identity.address,
      window: profile.window,
      maxFutureMs: this.params.maxFutureMs,
      busy: (id) => {
        const s = this.core.core.status(id);
        return s !== 'unknown' && s !== 'stored';
      },
      synced: (tokens) => this.core.core.noteSynced(tokens),
      connected: () => this.peers.connectedAddresses(),
      formed: () => this.elections.formed(),
      send: (to, message) => {
        const dest = this.peers.destination(to);
        if (dest === undefined) {
          this.metrics.unroutable++;
          return;
        }
        NodeMetrics.bump(this.metrics.messagesOut, message.type);
        this.endpoint.queue(dest, message, { initiate: true });
      },
      random: (n) => new Uint8Array(randomBytes(n)),
      clock: Date.now,
    });
    this.queries = new TokenQueries({
      blake3: crypto.blake3,
      ed25519: crypto.ed25519,
      store: mods.store,
      signer: crypto.ed25519.signerFromSeed(identity.seed),
      address: identity.address,
      networkId: profile.networkId,
      hosts: (token) => this.core.core.hosts(token),
      addressOf: (publicKey) => this.peers.addressOf(publicKey),
      referrals: (token, count, exclude) => this.peers.referrals(token, count, exclude),
      connected: (publicKey) => {
        const a = this.peers.addressOf(publicKey);
        return a !== undefined && this.peers.isConnected(a);
      },
      send: sendKey,
      clock: Date.now,
      random: (n) => new Uint8Array(randomBytes(n)),
      keep: (m) => this.evidence.keepAnswer(m),
      ...(config.unsafeMisbehave === undefined ? {} : { misbehave: config.unsafeMisbehave }),
    });
    const lmdb = mods.store instanceof LmdbStore ? mods.store : null;
    this.book = new EvidenceBook(crypto.blake3, { persist: lmdb !== null });
    if (lmdb !== null) this.book.load(snapshotFromStore(crypto.blake3, lmdb.evidenceLoad()));
    this.evidence = new Evidence({
      blake3: crypto.blake3,
      ed25519: crypto.ed25519,
      networkId: profile.networkId,
      book: this.book,
      store: mods.store,
      ...(lmdb === null ? {} : { persist: (w: readonly EvidenceWrite[]) => lmdb.evidenceWrite(w) }),
      identityOf: (publicKey) => this.peers.identityOf(publicKey),
      ban: (publicKey) => {
        const address = this.peers.addressOf(publicKey);
        if (address !== undefined) this.elections.forget(address);
        return this.peers.ban(publicKey);
      },
      connectedKeys: () => this.peers.connectedKeys(),
      send: (publicKey, message) => void sendKey(publicKey, message),
      ownKey: identity.publicKey,
      clock: Date.now,
      log: log.child({ mod: 'evidence' }),
    });
    this.evidence.restore();
    const jobKv: JobKv = lmdb === null ? new MemoryJobKv() : { get: (k) => lmdb.jobsGet(k), write: (e) => lmdb.jobsWrite(e), range: (p) => lmdb.jobsRange(p) };
    const jobBook = new JobBook(jobKv);
    const jobSigner = crypto.ed25519.signerFromSeed(identity.seed);

    // What both sides of compute jobs share: the store, the crypto, this daemon's key, the frames.
    const jobSide = { book: jobBook, blake3: crypto.blake3, ed25519: crypto.ed25519, signer: jobSigner, networkId: profile.networkId, send: sendKey, clock: Date.now };
    this.jobs = new JobClient({
      ...jobSide,
      random: (n) => new Uint8Array(randomBytes(n)),
      log: log.child({ mod: 'jobs' }),
    });
    this.provider =
      config.containerHost === undefined
        ? null
        : new JobProvider(
            {
              ...jobSide,
              host: new EngineContainerHost({ log: log.child({ mod: 'container-host' }) }, { endpoint: config.containerHost, daemonId: toHex(identity.publicKey) }),
              connectedKeys: () => this.peers.connectedKeys(),
              log: log.child({ mod: 'provider' }),
            },
            { images: config.jobImages },
          );
    this.jobsApi = new JobsApi(this.jobs, this.provider, {
      blake3: crypto.blake3,
      networkId: profile.networkId,
      submit: (signed) => this.submit(signed),
      status: (id) => this.core.core.status(id),
      clock: Date.now,
    });
    this.api = new ApiServer(this, log.child({ mod: 'api' }), { listen: config.api, token: apiToken });
  }

  /** Loads crypto, codec, identity and store; nothing listens yet. */
  static async create(config: NodeConfig, log: Logger, overrides: { codec?: MessageCodec<NodeMessage> } = {}): Promise<EcdNode> {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const crypto = await loadCrypto();
    const codec = overrides.codec ?? (await loadWireCodec());
    const argon2 = await Argon2idPool.start({ workers: 1, maxQueue: 256 });
    let store: Store | undefined;
    try {
      const identity = await loadOwnIdentity(config, crypto, argon2);
      if (config.unsafeMisbehave !== undefined && identity.profile.name === 'mainnet') throw new NodeStartError('--unsafe-misbehave is refused on the mainnet profile');
      store = config.store === 'memory' ? new MemoryStore() : openLmdbStore(join(config.dataDir, 'store'), { networkId: identity.profile.networkId });
      const token = await ensureApiToken(config.dataDir);
      return new EcdNode(config, identity, { crypto, codec, store, argon2 }, log, token);
    } catch (err) {
      store?.close();
      await argon2.close();
      throw err;
    }
  }

  /** Called when the node cannot go on (a store write failed): the command exits non-zero. */
  onFatal(handler: (err: Error) => void): void {
    this.fatal = handler;
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.startedAt = Date.now();
    startProcessMetrics();
    this.knownPeersSavedAt = this.startedAt;
    await this.endpoint.start();
    // Rounds need the full receive buffer: what arrives during a tick waits there. Where the kernel
    // granted less (net.core.rmem_max), the socket is read continuously.
    this.rounds = !this.transport.recvBufferWasCapped() && this.transport.setReading(true);
    if (this.provider !== null) {
      try {
        await this.provider.start();
      } catch (err) {
        throw new NodeStartError(`container host ${this.config.containerHost ?? ''}: ${(err as Error).message}`);
      }
    }
    this.jobs.start();
    await this.api.start();
    this.peers.start();
    await this.introduceKnownPeers();
    this.lastTickAt = Date.now();
    this.nextTickAt = this.lastTickAt + this.identity.profile.tickMs;
    this.scheduleTick();
    await this.writeDiscoveryFiles();
    const udp = this.endpoint.localAddress();
    this.log.info(
      {
        profile: this.identity.profile.name,
        publicKey: toHex(this.identity.publicKey),
        address: toHex(this.identity.address),
        udp: udp === null ? null : addressKey(udp),
        rounds: this.rounds,
        recvBufferBytes: this.transport.recvBufferBytes(),
        api: this.api.url,
        store: this.config.store,
        head: this.mods.store.head().seq,
        bootstrap: this.config.bootstrap.length,
        evidence: { statements: this.book.statements, proofs: this.book.proofs().length, bans: this.evidence.banCount },
      },
      'node started',
    );
    if (this.config.store === 'memory') {
      this.log.warn('--store memory: every start begins a new commit history under the same key; peers that kept this daemon\'s earlier answers will prove a fork (docs/evidence.md). For tests only');
    }
    const mis = this.config.unsafeMisbehave;
    if (mis !== undefined) this.log.warn({ kind: mis.kind, p: mis.p }, 'UNSAFE: this daemon signs false statements (--unsafe-misbehave); honest peers will ban it');
  }

  get apiUrl(): string {
    return this.api.url;
  }

  udpAddress(): { host: string; port: number } | null {
    return this.endpoint.localAddress();
  }

  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    // A stop during start waits for the start to finish, so nothing it opens outlives the stop.
    if (this.starting !== null) await this.starting.catch(() => undefined);
    this.state = 'stopping';
    if (this.tickTimer !== null) clearTimeout(this.tickTimer);
    this.tickTimer = null;
    this.peers.stop();
    this.queries.stop();
    this.jobs.stop();
    const step = async (what: string, fn: () => Promise<void> | void): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, `stop: ${what} failed`);
      }
    };
    // Running containers stay with the engine; the next start adopts them.
    const provider = this.provider;
    if (provider !== null) await step('provider', () => provider.stop());
    await step('api', () => this.api.stop());
    await step('peers file', () => this.saveKnownPeers());
    // After die() the state is already 'stopping': the socket is closed all the same.
    if (this.endpoint.isStarted) await step('udp', () => this.endpoint.stop());
    await step('argon2', () => this.mods.argon2.close());
    await step('evidence', () => this.evidence.flush());
    await step('store', () => this.mods.store.close());
    this.listeners.clear();
    this.state = 'stopped';
    this.log.info('node stopped');
  }

  // -------------------------------------------------------------------------------------------
  // The driver loop.

  /**
   * The next tick: one tick period on, or QUIET_TICK_MS after the last one when nothing is in
   * flight (empty mempool, no election or sync running), which is what keeps an idle daemon cheap.
   */
  private scheduleTick(): void {
    if (this.state !== 'running') return;
    this.quiet = this.core.core.mempoolSize === 0 && this.elections.quiet() && !this.sync.running;
    if (this.quiet) this.quietSince = this.lastTickAt;
    const at = this.quiet ? this.lastTickAt + QUIET_TICK_MS : this.nextTickAt;
    this.tickDueAt = Math.max(at, Date.now());
    this.tickTimer = setTimeout(() => this.onTick(), this.tickDueAt - Date.now());
  }

  /**
   * Work arrived while quiet: tick within one tick period, at a random point of it. What comes
   * meanwhile (a double spend's other contender) is decided in the same tick, as under load; the
   * random phase keeps daemons woken by one wave from ticking in step, where every message would
   * arrive just after its receiver's tick and wait a whole period there (half of one on average
   * between daemons whose phases differ).
   */
  private wake(): void {
    if (!this.quiet || this.state !== 'running') return;
    this.quiet = false;
    if (this.tickTimer !== null) clearTimeout(this.tickTimer);
    this.nextTickAt = Date.now() + randomInt(1, this.identity.profile.tickMs + 1);
    this.tickDueAt = this.nextTickAt;
    this.tickTimer = setTimeout(() => this.onTick(), Math.max(0, this.nextTickAt - Date.now()));
  }

  private onTick(): void {
    this.tickTimer = null;
    if (this.state !== 'running') return;
    const tickMs = this.identity.profile.tickMs;
    const now = Date.now();
    this.metrics.loopDelay.observe(Math.max(0, now - this.tickDueAt) / 1000);
    // The lifecycle counts the ticks skipped while quiet, so its timeouts keep their length in
    // time; a busy daemon that runs late counts one (its ticks stretch, as they always did).
    const elapsed = this.quietSince === null ? 1 : Math.max(1, Math.round((now - this.quietSince) / tickMs));
    this.quietSince = null;
    this.lastTickAt = now;
    if (now - this.nextTickAt > tickMs) {
      if (elapsed === 1) this.metrics.tickOverruns++;
      this.nextTickAt = now;
    }
    this.nextTickAt += tickMs;
    // With rounds, the tick's work comes once the round has read what waited: the votes and blocks
    // that arrived since the last tick are decided in this tick, not the next.
    this.tickElapsed = elapsed;
    if (!this.rounds || !this.openRound()) this.tickWork(true);
  }

  /** The tick proper: lifecycle, sync, the core (waves, commits, polls); `flush` unless a round's end does. */
  private tickWork(flush: boolean): void {
    const elapsed = this.tickElapsed;
    this.tickElapsed = 0;
    const t0 = performance.now();
    try {
      this.peers.tick();
      this.elections.tick(elapsed);
      this.sync.tick();
      this.core.core.setVoting(this.elections.formed());
      const now = Date.now();
      // After a quiet spell the core's mempool was empty: nothing of it times out, it counts one.
      this.take(this.core.tick(now));
      this.evidence.flush();
      if (flush) this.endpoint.flush();
      if (now - this.knownPeersSavedAt >= KNOWN_PEERS.saveEveryMs) this.saveKnownPeers().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, `cannot write ${KNOWN_PEERS.file}`));
    } catch (err) {
      this.die(err);
      return;
    }
    this.metrics.ticks++;
    this.metrics.tickSeconds.observe((performance.now() - t0) / 1000);
    this.notify();
    this.scheduleTick();
  }

  /**
   * Starts reading the socket until it is drained; the tick's work runs at the round's end and its
   * messages leave with the round's answers. False when the socket cannot be read in rounds now.
   */
  private openRound(): boolean {
    if (!this.reading && !this.transport.setReading(true)) return false;
    this.reading = true;
    this.endRoundWhenDrained(this.transport.stats().datagramsReceived, performance.now());
    return true;
  }

  /**
   * After each poll phase: flushes the answers; once a turn read nothing (libuv reads a bounded
   * number of datagrams per turn, so a turn that read some may have left more), or the round has
   * read for half a tick (ROUND_READ_SHARE), runs the tick's work and pauses reading.
   */
  private endRoundWhenDrained(before: number, startedAt: number): void {
    setImmediate(() => {
      if (this.state !== 'running') return;
      const received = this.transport.stats().datagramsReceived;
      if (received !== before && performance.now() - startedAt < this.identity.profile.tickMs * ROUND_READ_SHARE) {
        this.endpoint.flush();
        this.endRoundWhenDrained(received, startedAt);
        return;
      }
      if (this.tickElapsed > 0) this.tickWork(false);
      this.endpoint.flush();
      // A quiet daemon keeps reading: a message is handled on arrival and brings the next tick near.
      if (!this.quiet) this.reading = !this.transport.setReading(false);
    });
  }

  /** Sends what the composition decided (its batch is already durable), then bookkeeping. */
  private take(out: Output): void {
    for (const [cause, n] of Object.entries(out.causes)) NodeMetrics.bump(this.metrics.itemsOut, cause, n);
    for (const o of out.messages) {
      const dest = this.peers.destination(o.to);
      if (dest === undefined) {
        this.metrics.unroutable++;
        continue;
      }
      const m = o.message;
      NodeMetrics.bump(this.metrics.messagesOut, m.type);
      if (m.type === 'vote') this.metrics.votesOut++;
      else if (m.type === 'batch') for (const i of m.items) if (i.type === 'vote') this.metrics.votesOut++;
      this.endpoint.queue(dest, m, { initiate: true, hold: this.rounds });
    }
    for (const ev of out.events) this.onEvent(ev);
  }

  private onEvent(ev: ConsensusEvent): void {
    NodeMetrics.bump(this.metrics.events, ev.kind);
    if (ev.kind === 'committed') {
      const t = this.submittedAt.get(ev.id);
      if (t !== undefined) {
        this.metrics.commitLatency.observe((performance.now() - t) / 1000);
        this.submittedAt.delete(ev.id);
      }
      this.log.debug({ id: ev.id, seq: ev.seq }, 'committed');
    } else if (ev.kind === 'rejected') {
      if (ev.action === 'reject' || ev.code === 'internal-error') this.log.debug({ message: ev.message, code: ev.code }, 'message rejected by consensus');
    } else if (TERMINAL_EVENTS.has(ev.kind) && 'id' in ev && typeof ev.id === 'string') {
      this.submittedAt.delete(ev.id);
      if (ev.kind === 'blocked') this.log.debug({ id: ev.id, winner: ev.winner }, 'block lost a conflict');
      else if (ev.kind === 'expired' && ev.state !== 'committed') this.log.info({ id: ev.id, state: ev.state }, 'block expired undecided');
    }
  }

  private die(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.log.fatal({ err: e.message }, 'cannot continue');
    if (this.tickTimer !== null) clearTimeout(this.tickTimer);
    this.tickTimer = null;
    this.state = 'stopping';
    this.fatal?.(e);
  }

  private onMessage(m: NodeMessage, src: FrameSource): void {
    if (this.state !== 'running') return;
    if (!this.peers.noteTraffic(src.senderKey, src.address)) return;
    NodeMetrics.bump(this.metrics.messagesIn, m.type);
    if (PEER_TYPES.has(m.type)) {
      this.peers.receive(src.senderKey, src.address, m as PeerMessage);
      return;
    }
    this.wake();
    if (m.type === 'query-token') {
      // Elections: a verified peer asking with the proof flag for itself.
      if (m.wantProof && this.peers.addressOf(src.senderKey) !== undefined) {
        if (this.queries.admit(src.senderKey)) this.elections.onQuery(src.senderKey, m);
        return;
      }
      // Reads are open: any authenticated sender may ask. Each answer is a signature, so the query
      // layer rate-limits per sender key and globally; the amplification guard bounds the bytes an
      // unproven address gets back.
      const reply = this.queries.respond(src.senderKey, m);
      if (reply !== null) {
        NodeMetrics.bump(this.metrics.messagesOut, reply.type);
        this.endpoint.queue({ publicKey: src.senderKey, address: src.address }, reply);
      }
      return;
    }
    if (m.type === 'answer') {
      if (this.queries.owns(m.ticket)) return this.queries.onAnswer(src.senderKey, m);
      if (!this.queries.relay(src.senderKey, m)) this.elections.onAnswer(src.senderKey, m);
      return;
    }
    if (JOB_TYPES.has(m.type)) return this.onJobMessage(src.senderKey, m as JobMessage);
    if (m.type === 'fraud-proof') {
      // Each check costs two signature verifications: only verified peers may send proofs.
      if (this.peers.addressOf(src.senderKey) === undefined) {
        this.metrics.unverifiedDropped++;
        return;
      }
      try {
        this.evidence.onFraudProof(src.senderKey, m);
      } catch (err) {
        this.die(err);
      }
      return;
    }
    if (m.type === 'referral') {
      if (this.queries.owns(m.ticket)) return this.queries.onReferral(src.senderKey, m);
      if (!this.queries.relay(src.senderKey, m)) this.elections.onReferral(src.senderKey, m);
      return;
    }
    if (m.type === 'sync-ask' || m.type === 'sync-reply') return this.onSyncMessage(src, m);
    if (!CONSENSUS_TYPES.has(m.type)) return;
    const cm = m as Message;
    const from = this.peers.addressOf(src.senderKey);
    if (from === undefined) {
      this.metrics.unverifiedDropped++;
      return;
    }
    if (cm.type === 'block' && this.sync.owns(cm.ticket)) return this.guard(() => this.sync.receive(from, cm));
    if (cm.type === 'vote') this.metrics.votesIn++;
    else if (cm.type === 'batch') for (const i of cm.items) if (i.type === 'vote') this.metrics.votesIn++;
    try {
      this.take(this.core.receive(Date.now(), from, cm, src.packetNumber));
    } catch (err) {
      this.die(err);
    }
  }

  /** Sync travels between verified peers: asks are served from the store, replies go to our session. */
  private onSyncMessage(src: FrameSource, m: SyncAskMessage | SyncReplyMessage): void {
    const from = this.peers.addressOf(src.senderKey);
    if (from === undefined) {
      this.metrics.unverifiedDropped++;
      return;
    }
    if (m.type === 'sync-reply') return this.guard(() => this.sync.receive(from, m));
    const reply = this.sync.serve(from, m);
    if (reply === null) return;
    NodeMetrics.bump(this.metrics.messagesOut, reply.type);
    this.endpoint.queue({ publicKey: src.senderKey, address: src.address }, reply);
  }

  /** Runs a step that writes the store; a store failure stops the daemon. */
  private guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      this.die(err);
    }
  }

  /** Job messages travel between verified peers only: a job is a contract between two identities. */
  private onJobMessage(from: Uint8Array, m: JobMessage): void {
    if (this.peers.addressOf(from) === undefined) {
      this.metrics.unverifiedDropped++;
      return;
    }
    switch (m.type) {
      case 'job-offer':
        return this.jobs.onOffer(from, m);
      case 'job-submit':
        return this.provider?.onSubmit(from, m);
      case 'job-query':
        return this.provider?.onQuery(from, m);
      case 'job-accept':
        return this.jobs.onAccept(from, m);
      case 'job-refuse':
        return this.jobs.onRefuse(from, m);
      case 'job-status':
        return this.jobs.onStatus(from, m);
      case 'job-receipt':
        return this.jobs.onReceipt(from, m);
      case 'job-output':
        return this.jobs.onOutput(from, m);
    }
  }

  private verifyPeer(record: IdentityRecord): Promise<IdentityVerifyResult> {
    const c = this.mods.crypto;
    return verifyIdentity({ ed25519: c.ed25519, blake3: c.blake3, argon2: this.mods.argon2 }, record, {
      profile: this.identity.profile,
      now: Math.floor(Date.now() / 1000),
    }).then((r) => {
      if (r.ok) this.metrics.identityVerified++;
      else this.metrics.identityFailed++;
      return r;
    });
  }

  private notify(): void {
    for (const l of [...this.listeners]) {
      try {
        l();
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** The peers of `peers.json` (daemon/known-peers.ts), verified, enter the table as Identified. */
  private async introduceKnownPeers(): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(this.config.dataDir, KNOWN_PEERS.file), 'utf8');
    } catch {
      return;
    }
    const { peers, skipped } = decodeKnownPeers(text);
    for (const p of peers) {
      this.formerPeers.add(toHex(p.identity.publicKey));
      this.peers.introduce(p.identity, p.endpoint);
    }
    this.log.info({ peers: peers.length, skipped }, `introduced the peers of ${KNOWN_PEERS.file}`);
  }

  /** Writes the Connected peers to `peers.json`; the last write is kept when there are none. */
  private async saveKnownPeers(): Promise<void> {
    this.knownPeersSavedAt = Date.now();
    const peers = this.peers.referralsFor(this.peers.connectedAddresses());
    if (peers.length > 0) await writeFileAtomic(join(this.config.dataDir, KNOWN_PEERS.file), encodeKnownPeers(peers), 0o600);
  }

  private async writeDiscoveryFiles(): Promise<void> {
    const dir = this.config.dataDir;
    const udp = this.endpoint.localAddress();
    await writeFileAtomic(join(dir, 'api-url'), `${this.api.url}\n`);
    const nodeJson = {
      publicKey: toHex(this.identity.publicKey),
      address: toHex(this.identity.address),
      udp: udp === null ? '' : addressKey(udp),
      api: this.api.url,
      profile: this.identity.profile.name,
      pid: process.pid,
    };
    await writeFileAtomic(join(dir, 'node.json'), `${JSON.stringify(nodeJson, null, 2)}\n`);
  }

  // -------------------------------------------------------------------------------------------
  // ApiBackend.

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  noteRequest(status: number): void {
    this.metrics.httpRequests++;
    NodeMetrics.bump(this.metrics.httpByStatus, status);
  }

  status(): Record<string, unknown> {
    const head = this.mods.store.head();
    const udp = this.endpoint.localAddress();
    const p = this.identity.profile;
    return {
      version: ECD_VERSION,
      profile: p.name,
      networkId: p.networkId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(p.networkId) : p.networkId.toString(10),
      publicKey: toHex(this.identity.publicKey),
      address: toHex(this.identity.address),
      udp: { host: udp?.host ?? '', port: udp?.port ?? 0 },
      head: { seq: head.seq, id: toHex(head.id) },
      peers: this.peers.counts(),
      neighbourhood: this.elections.view(),
      sync: this.sync.view(),
      mempool: this.core.core.mempoolSize,
      uptimeS: Math.floor((Date.now() - this.startedAt) / 1000),
    };
  }

  peerList(): readonly Record<string, unknown>[] {
    return this.peers.list() as unknown as Record<string, unknown>[];
  }

  submit(signed: SignedBlock): SubmitResult {
    if (this.state !== 'running') return { ok: false, error: 'unavailable', code: 'stopping', reason: 'the node is stopping' };
    const t = performance.now();
    this.wake();
    const out = this.core.submit(Date.now(), signed);
    try {
      this.take(out);
    } catch (err) {
      this.die(err);
      return { ok: false, error: 'unavailable', code: 'store', reason: 'the node failed to write its store' };
    }
    const invalid = out.events.find((e) => e.kind === 'invalid');
    if (out.id === undefined || out.status === 'invalid') {
      this.metrics.blocksRefused++;
      const code = invalid !== undefined && invalid.kind === 'invalid' ? invalid.code : 'invalid';
      return { ok: false, error: 'invalid-block', code, reason: `the block is invalid: ${code}`, ...(out.id === undefined ? {} : { id: out.id }) };
    }
    if (out.status === 'unknown') {
      const rejected = out.events.find((e) => e.kind === 'rejected');
      const code = rejected !== undefined && rejected.kind === 'rejected' ? rejected.code : 'unknown';
      return { ok: false, error: 'unavailable', code, reason: `the block was not taken: ${code}`, id: out.id };
    }
    this.metrics.blocksSubmitted++;
    if (out.status !== 'committed' && out.status !== 'stored' && !this.submittedAt.has(out.id) && this.submittedAt.size < MAX_LATENCY_TRACKED) {
      this.submittedAt.set(out.id, t);
    }
    return { ok: true, id: out.id, status: out.status };
  }

  block(id: Uint8Array): BlockAnswer {
    const status = this.core.core.status(id);
    const stored = status === 'committed' || status === 'stored' ? this.mods.store.block(id) : undefined;
    if (stored === undefined) return { id: toHex(id), status };
    return { id: toHex(id), status, seq: stored.seq, block: toHex(encodeSignedBlock({ block: stored.block, signatures: stored.signatures })) };
  }

  token(token: Uint8Array): Record<string, unknown> | undefined {
    const m = this.mods.store.token(token);
    if (m === undefined) return undefined;
    return { token: toHex(token), block: toHex(m.block), parent: toHex(m.parent), time: m.time, seq: m.seq, source: m.source, hosted: this.core.core.hosts(token) };
  }

  hosts(token: Uint8Array): boolean {
    return this.core.core.hosts(token);
  }

  history(token: Uint8Array): Record<string, unknown> {
    const out: { block: string; parent: string; time: number; seq?: number }[] = [];
    let id = this.mods.store.token(token)?.block;
    const seen = new Set<string>();
    while (id !== undefined && !isZero(id) && out.length < 10_000) {
      const h = toHex(id);
      if (seen.has(h)) break;
      seen.add(h);
      const b = this.mods.store.block(id);
      if (b === undefined) break;
      const e = b.block.entries.find((x) => bytesEqual(x.token, token));
      if (e === undefined) break;
      out.push({ block: h, parent: toHex(e.last), time: b.block.time, seq: b.seq });
      id = e.last;
    }
    return { token: toHex(token), history: out };
  }

  /**
   * Asks the token's neighbourhood (its window over our Connected peers, PROTOCOL §5.1) with
   * QUERY_TOKEN and returns the verified signed answers and any referrals (daemon/token-query.ts).
   */
  async networkToken(token: Uint8Array, timeoutMs: number, wantProof = false): Promise<Record<string, unknown>> {
    if (this.state !== 'running') throw new ApiUnavailable('stopping', 'the node is stopping');
    const targets: QueryTarget[] = [];
    for (const address of this.core.core.windowOf(token)) {
      const publicKey = this.peers.publicKeyOf(address);
      if (publicKey !== undefined) targets.push({ publicKey, address });
    }
    try {
      const r = await this.queries.query(token, targets, timeoutMs, wantProof);
      return { ...r };
    } catch (err) {
      if (err instanceof TokenQueryError) throw new ApiUnavailable(err.code, err.message);
      throw err;
    }
  }

  evidenceView(token: Uint8Array | undefined): Record<string, unknown> {
    const kept = this.book.kept(token === undefined ? {} : { token });
    const responders = new Set(kept.map((k) => k.responder));
    return {
      ...(token === undefined ? {} : { token: toHex(token) }),
      statements: kept.length,
      responders: responders.size,
      bytes: kept.reduce((n, k) => n + k.s.bytes.length, 0),
      kept: kept.slice(-MAX_EVIDENCE_LISTED).map((k) => ({ responder: k.responder, arrival: k.s.arrival, at: k.s.at, ...statementView(k.s.bytes) })),
      proofs: this.book.proofs().map((p) => ({ id: p.id, culprit: p.culpritHex, predicate: p.predicate, foundAt: p.foundAt, source: p.source })),
      bans: this.evidence.banList(),
    };
  }

  evidenceProof(id: string): Record<string, unknown> | undefined {
    const p = this.book.proof(id);
    if (p === undefined) return undefined;
    return {
      id: p.id,
      culprit: p.culpritHex,
      predicate: p.predicate,
      foundAt: p.foundAt,
      source: p.source,
      a: statementView(p.a),
      b: statementView(p.b),
      file: toHex(this.evidence.proofFile(p)),
    };
  }

  evidenceBundle(token: Uint8Array | undefined): Record<string, unknown> {
    return { ...(token === undefined ? {} : { token: toHex(token) }), file: toHex(this.evidence.bundle(token)) };
  }

  bans(): Record<string, unknown> {
    return { bans: this.evidence.banList() };
  }

  submitProof(file: Uint8Array): { ok: true; body: Record<string, unknown> } | { ok: false; reason: string } {
    const d = decodeEvidenceFile(file);
    if (!d.ok) return { ok: false, reason: d.reason };
    if (d.file.kind !== 'fraud-proof') return { ok: false, reason: 'an evidence bundle is not a proof: find the proof with ecd evidence verify --proof-out' };
    if (d.file.networkId !== this.identity.profile.networkId) return { ok: false, reason: `the proof is for network ${d.file.networkId}, this daemon is on ${this.identity.profile.networkId}` };
    const r = this.evidence.submitProof(d.file.predicate, d.file.a, d.file.b);
    if (!r.ok) return { ok: false, reason: `not a valid fraud proof: ${r.reason}` };
    return { ok: true, body: { culprit: r.culprit, predicate: d.file.predicate, proof: r.proof, banned: r.banned } };
  }

  /** The daemon's metrics, then the process's own health (daemon/process-metrics.ts). */
  async metricsText(): Promise<string> {
    return this.ownMetricsText() + (await processMetricsText());
  }

  private ownMetricsText(): string {
    const s = this.mods.store as StoreWithStats;
    const counts = this.peers.counts();
    return renderMetrics(this.metrics, {
      frames: this.endpoint.counters(),
      mempool: this.core.core.mempoolSize,
      headSeq: this.mods.store.head().seq,
      peersConnected: counts.connected,
      peersKnown: counts.known,
      elections: { ...this.elections.view(), counters: this.elections.counters },
      sync: this.sync.view(),
      uptimeS: Math.floor((Date.now() - this.startedAt) / 1000),
      store: typeof s.stats === 'function' ? s.stats() : undefined,
      queries: this.queries,
      evidence: {
        statements: this.book.statements,
        responders: this.book.responderCount,
        bans: this.evidence.banCount,
        added: this.book.counters.added,
        evicted: this.book.counters.evicted,
        proofsFound: this.evidence.counters.proofsFound,
        proofsReceived: this.evidence.counters.proofsReceived,
        proofsRefused: this.evidence.counters.proofsRefused,
        proofsGossiped: this.evidence.counters.proofsGossiped,
        lies: this.queries.lies,
      },
      jobs: { provider: this.provider?.counters ?? null, client: this.jobs.counters, running: this.provider?.runningCount ?? 0 },
    });
  }
}
