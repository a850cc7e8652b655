/**
 * FrameEndpoint: the receive and send pipelines of PROTOCOL §3 over any Transport.
 *
 * Receive, in exactly this order (wireguard-go `device/receive.go`), never throwing past the
 * socket handler, every outcome counted:
 *
 *   1. length, version, flags                       → too_short | too_long | version | flags
 *   2. token bucket of the source IP:port            → rate_limited
 *   3. pair-key cache; on a miss the global
 *      key-agreement budget, then key agreement      → key_budget | bad_key
 *   4. AEAD open into a reused buffer                → aead
 *   5. send time within ±clockWindowMs of our clock  → clock
 *   6. replay window of the sender key               → replay
 *   7. split the plaintext (packing) and decode
 *      every message with the plugged-in codec       → decode
 *   8. handler(message, {senderKey, address, …}) for each message; the frame counts as handled.
 *
 * Invariant: counters.received = counters.handled + Σ counters.drop. An unexpected exception is
 * counted as `internal` and IGNOREd, so our own bug never penalises a peer (STYLE §8).
 *
 * Send: one packet-number counter for our key, started at unix ms × 1000; small messages to the
 * same receiver are packed into one frame when the codec says their kind allows; every frame
 * passes the no-amplification rule (`AmplificationGuard`) before it is written.
 *
 * Lifecycle: `start()` binds the transport; `stop()` flushes queued sends, clears the one timer
 * (the flush immediate) and closes the transport.
 */
import { randomFillSync } from 'node:crypto';
import type { Blake3Kernel, Ed25519Kernel, X25519Kernel, XAead } from '../kernels/types.js';
import type { Consequence, MessageCodec, PlaintextItem } from '../wire/frame.js';
import {
  FRAME_OFFSETS,
  FRAME_SIZES,
  KIND_PACK,
  MAX_FRAME_BYTES,
  MAX_PACKED_MESSAGES,
  PACK_SIZES,
  checkFrameFormat,
  encodeFrame,
  frameSize,
  packItemSize,
  readU64BE,
  singleSize,
  splitPlaintext,
} from '../wire/frame.js';
import { ReplayFilter } from '../wire/replay.js';
import type { ReplayFilterOptions } from '../wire/replay.js';
import {
  AddressRateLimiter,
  DEFAULT_KEY_AGREEMENT_BURST,
  DEFAULT_KEY_AGREEMENTS_PER_S,
  TokenBucket,
} from '../wire/ratelimit.js';
import type { AddressRateLimiterOptions, TokenBucketParams } from '../wire/ratelimit.js';
import type { NetworkProfile } from '../wire/profiles.js';
import { AmplificationGuard } from './amplification.js';
import type { AmplificationOptions, AddressState } from './amplification.js';
import { PairKeyCache, keyId } from './pair-keys.js';
import type { FrameIdentity } from './pair-keys.js';
import { addressKey } from './transport.js';
import type { PeerAddress, Transport } from './transport.js';

// ---------------------------------------------------------------------------------------------
// Counters.

export const RECEIVE_DROP_REASONS = [
  'too_short',
  'too_long',
  'version',
  'flags',
  'rate_limited',
  'key_budget',
  'bad_key',
  'aead',
  'clock',
  'replay',
  'decode',
  'internal',
] as const;
export type ReceiveDropReason = (typeof RECEIVE_DROP_REASONS)[number];

/**
 * What each drop means for the sender. Everything before the AEAD is unauthenticated and so
 * IGNOREd; clock and replay failures can be honest (skew, network duplicates). Decode failures
 * take the codec's consequence; a REJECT is reported through `onReject`.
 */
export const DROP_CONSEQUENCE: Readonly<Record<ReceiveDropReason, Consequence>> = {
  too_short: 'IGNORE',
  too_long: 'IGNORE',
  version: 'IGNORE',
  flags: 'IGNORE',
  rate_limited: 'IGNORE',
  key_budget: 'IGNORE',
  bad_key: 'IGNORE',
  aead: 'IGNORE',
  clock: 'IGNORE',
  replay: 'IGNORE',
  decode: 'IGNORE',
  internal: 'IGNORE',
};

export const SEND_DROP_REASONS = ['not_started', 'bad_message', 'bad_key', 'amplification'] as const;
export type SendDropReason = (typeof SEND_DROP_REASONS)[number];

export interface FrameCounters {
  /** Datagrams handed to the endpoint. */
  readonly received: number;
  /** Frames whose messages reached the handler. */
  readonly handled: number;
  /** Messages handed to the handler (a packed frame carries several). */
  readonly messages: number;
  /** Drops by reason; received = handled + Σ drop. */
  readonly drop: Readonly<Record<ReceiveDropReason, number>>;
  /** Frames dropped at decode whose codec said REJECT (a subset of drop.decode). */
  readonly rejected: number;
  /** Pair keys computed on the receive path (each used one key-agreement token). */
  readonly keyAgreements: number;
  /** Exceptions thrown by the message handler (the frame still counts as handled). */
  readonly handlerErrors: number;
  readonly sent: {
    readonly frames: number;
    readonly bytes: number;
    readonly messages: number;
    /** Frames that carried more than one message. */
    readonly packedFrames: number;
  };
  /** Not sent, by reason: frames (bad_key, amplification), messages (bad_message), calls (not_started). */
  readonly sendDrop: Readonly<Record<SendDropReason, number>>;
}

function zeroRecord<K extends string>(keys: readonly K[]): Record<K, number> {
  const r = {} as Record<K, number>;
  for (const k of keys) r[k] = 0;
  return r;
}

/** Sum of all receive drops. */
export function totalDrops(c: FrameCounters): number {
  let s = 0;
  for (const k of RECEIVE_DROP_REASONS) s += c.drop[k];
  return s;
}

// ---------------------------------------------------------------------------------------------
// Options and modules.

export interface FrameSource {
  /** The authenticated sender key (a private copy; safe to keep). */
  readonly senderKey: Uint8Array;
  readonly address: PeerAddress;
  readonly sendTimeMs: number;
  readonly packetNumber: number;
}

export type MessageHandler<M> = (message: M, source: FrameSource) => void;
/** A decode failure with consequence REJECT: the sender should be penalised. */
export type RejectHandler = (senderKey: Uint8Array, address: PeerAddress, code: string) => void;

export interface FrameDestination {
  readonly publicKey: Uint8Array;
  readonly address: PeerAddress;
}

export interface SendOptions {
  /** A first contact we chose to make (see AmplificationGuard); default false = a reply. */
  readonly initiate?: boolean;
  /** Queue without scheduling a flush: the message leaves with the next `flush()` (or with a later unheld message). */
  readonly hold?: boolean;
}

export interface SendReport {
  readonly frames: number;
  readonly messagesSent: number;
  readonly messagesDropped: number;
}

export interface FrameEndpointModules<M> {
  readonly transport: Transport;
  readonly crypto: {
    readonly aead: XAead;
    readonly ed25519: Ed25519Kernel;
    readonly x25519: X25519Kernel;
    readonly blake3: Blake3Kernel;
  };
  readonly codec: MessageCodec<M>;
}

export interface FrameEndpointOptions {
  readonly identity: FrameIdentity;
  readonly networkId: bigint;
  /** Unix ms (default Date.now). */
  readonly clock?: () => number;
  /** Fills a buffer with random bytes (default crypto.randomFillSync). */
  readonly randomFill?: (out: Uint8Array) => void;
  /** ≤ 1 452 (default 1 452). */
  readonly maxDatagram?: number;
  /** Default 30 000. */
  readonly clockWindowMs?: number;
  readonly addressRate?: AddressRateLimiterOptions;
  /** Global key-agreement budget (default 500/s, burst 500). */
  readonly keyAgreement?: Partial<TokenBucketParams>;
  readonly pairKeyCacheSize?: number;
  readonly replay?: ReplayFilterOptions;
  readonly amplification?: AmplificationOptions;
}

/** The endpoint options a network profile decides. */
export function endpointProfileOptions(p: NetworkProfile): Pick<FrameEndpointOptions, 'networkId' | 'maxDatagram' | 'clockWindowMs'> {
  return { networkId: p.networkId, maxDatagram: p.maxDatagram, clockWindowMs: p.clockWindowMs };
}

export const DEFAULT_CLOCK_WINDOW_MS = 30_000;
/** What decodeOne returns when the message is dropped (a codec's message may be any value). */
const DECODE_FAILED: unique symbol = Symbol('decode failed');
const RANDOM_POOL_BYTES = 4096;

interface Pending<M> {
  readonly to: FrameDestination;
  readonly messages: M[];
  initiate: boolean;
}

interface EncodedItem<M> {
  readonly message: M;
  readonly kind: number;
  readonly size: number;
}

// ---------------------------------------------------------------------------------------------

export class FrameEndpoint<M> {
  private readonly transport: Transport;
  private readonly aead: XAead;
  private readonly codec: MessageCodec<M>;
  private readonly identity: FrameIdentity;
  private readonly clock: () => number;
  private readonly randomFill: (out: Uint8Array) => void;
  private readonly maxDatagram: number;
  private readonly maxPlaintext: number;
  private readonly clockWindowMs: number;

  private readonly addressLimiter: AddressRateLimiter;
  private readonly keyBudget: TokenBucket;
  private readonly pairKeys: PairKeyCache;
  private readonly replay: ReplayFilter;
  private readonly amplification: AmplificationGuard;

  /** Reused plaintext buffers: one for opening, one for building (never the same frame). */
  private readonly recvPlain: Uint8Array;
  /**
   * recvPlain.subarray(0, n) and .subarray(1, n) for the last n seen: frames of one size reuse
   * the two views (a codec gets a view valid only during its call, and must copy what it keeps).
   */
  private recvPlainView: Uint8Array;
  private recvBodyView: Uint8Array;
  /**
   * The receiver's copy of the frame being received (one memcpy), with fixed views of its header
   * (the AD) and nonce and a view of its sealed part per frame size: no view of the datagram is
   * made per frame, and every field is read from the bytes the AEAD authenticated.
   */
  private readonly recvFrame = new Uint8Array(MAX_FRAME_BYTES);
  private readonly recvHeader = this.recvFrame.subarray(0, FRAME_SIZES.header);
  private readonly recvNonce = this.recvFrame.subarray(FRAME_OFFSETS.nonce, FRAME_OFFSETS.nonce + FRAME_SIZES.nonce);
  private recvSealedView = this.recvFrame.subarray(FRAME_OFFSETS.ciphertext);
  private readonly sendPlain: Uint8Array;
  private readonly randomPool = new Uint8Array(RANDOM_POOL_BYTES);
  private randomOffset = RANDOM_POOL_BYTES;

  private messageHandler: MessageHandler<M> = () => {};
  private rejectHandler: RejectHandler = () => {};
  private started = false;
  private nextPacketNumber = 0;
  private readonly pending = new Map<string, Pending<M>>();
  private flushImmediate: NodeJS.Immediate | null = null;

  // Counters (mutable internally; `counters()` returns a snapshot).
  private received = 0;
  private handled = 0;
  private messages = 0;
  private rejected = 0;
  private keyAgreements = 0;
  private handlerErrors = 0;
  private readonly drop = zeroRecord(RECEIVE_DROP_REASONS);
  private readonly sent = { frames: 0, bytes: 0, messages: 0, packedFrames: 0 };
  private readonly sendDrop = zeroRecord(SEND_DROP_REASONS);

  constructor(modules: FrameEndpointModules<M>, opts: FrameEndpointOptions) {
    this.transport = modules.transport;
    this.aead = modules.crypto.aead;
    this.codec = modules.codec;
    this.identity = opts.identity;
    if (opts.identity.publicKey.length !== 32 || opts.identity.x25519Secret.length !== 32) {
      throw new RangeError('identity keys must be 32 bytes');
    }
    this.clock = opts.clock ?? Date.now;
    this.randomFill = opts.randomFill ?? ((out) => randomFillSync(out));
    this.maxDatagram = opts.maxDatagram ?? MAX_FRAME_BYTES;
    if (!Number.isInteger(this.maxDatagram) || this.maxDatagram < frameSize(1) || this.maxDatagram > MAX_FRAME_BYTES) {
      throw new RangeError(`maxDatagram must be ${frameSize(1)}..${MAX_FRAME_BYTES}`);
    }
    this.maxPlaintext = this.maxDatagram - FRAME_SIZES.overhead;
    this.clockWindowMs = opts.clockWindowMs ?? DEFAULT_CLOCK_WINDOW_MS;
    this.addressLimiter = new AddressRateLimiter(opts.addressRate);
    this.keyBudget = new TokenBucket({
      ratePerS: opts.keyAgreement?.ratePerS ?? DEFAULT_KEY_AGREEMENTS_PER_S,
      burst: opts.keyAgreement?.burst ?? DEFAULT_KEY_AGREEMENT_BURST,
    });
    const pairKeyOpts = opts.pairKeyCacheSize === undefined ? {} : { maxEntries: opts.pairKeyCacheSize };
    this.pairKeys = new PairKeyCache(modules.crypto, opts.identity, opts.networkId, pairKeyOpts);
    this.replay = new ReplayFilter(opts.replay);
    this.amplification = new AmplificationGuard(opts.amplification);
    this.recvPlain = new Uint8Array(this.maxPlaintext);
    this.recvPlainView = this.recvPlain;
    this.recvBodyView = this.recvPlain.subarray(1);
    this.sendPlain = new Uint8Array(this.maxPlaintext);
  }

  /** Handler for every decoded message (set before start). */
  onMessage(handler: MessageHandler<M>): void {
    this.messageHandler = handler;
  }

  /** Called when the codec refuses a message with consequence REJECT. */
  onReject(handler: RejectHandler): void {
    this.rejectHandler = handler;
  }

  async start(): Promise<void> {
    if (this.started) return;
    // One counter per key, ahead of anything a previous run can have used (PROTOCOL §3).
    this.nextPacketNumber = Math.max(this.nextPacketNumber, Math.floor(this.clock()) * 1000);
    this.transport.onDatagram((d, from, fromKey) => this.receive(d, from, fromKey));
    await this.transport.start();
    this.started = true;
  }

  /** Flushes queued sends, clears the flush timer, closes the transport. Idempotent. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.flush();
    this.started = false;
    this.transport.onDatagram(() => {});
    await this.transport.stop();
  }

  get isStarted(): boolean {
    return this.started;
  }

  localAddress(): PeerAddress | null {
    return this.transport.localAddress();
  }

  // -------------------------------------------------------------------------------------------
  // Receive.

  /**
   * One datagram from the transport (public so a simulator can feed the endpoint directly).
   * `fromKey`, when given, must be `addressKey(from)` (transports pass it to save building it).
   * Never throws.
   */
  receive(datagram: Uint8Array, from: PeerAddress, fromKey?: string): void {
    this.received++;
    let outcome: ReceiveDropReason | null;
    try {
      outcome = this.receiveFrame(datagram, from, fromKey ?? addressKey(from));
    } catch {
      outcome = 'internal';
    }
    if (outcome !== null) this.drop[outcome]++;
  }

  /**
   * The pipeline. Returns the drop reason, or null when the frame was handled.
   *
   * Per-frame cost is what the transport benchmark measures, so for a known sender this path
   * allocates only the FrameSource (plus what the codec makes): the datagram is copied into a
   * reused buffer whose views are kept per frame size; the address key comes from the transport;
   * a recent sender is found by its bytes (`find`), and its entry's id string, already hashed,
   * keys the replay filter.
   */
  private receiveFrame(d: Uint8Array, from: PeerAddress, addr: string): ReceiveDropReason | null {
    // 1. Length, version, flags.
    const format = checkFrameFormat(d, this.maxDatagram);
    if (format !== null) return format;

    // 2. Per-address token bucket.
    const now = this.clock();
    if (!this.addressLimiter.take(addr, now)) return 'rate_limited';

    // 3. Pair key: cache, else budgeted key agreement. (d.length ≤ maxDatagram ≤ the copy's size.)
    const header = this.recvHeader;
    this.recvFrame.set(d);
    let entry = this.pairKeys.find(header, FRAME_OFFSETS.senderKey);
    if (entry === undefined) {
      if (!this.keyBudget.take(now)) return 'key_budget';
      this.keyAgreements++;
      entry = this.pairKeys.compute(keyId(header, FRAME_OFFSETS.senderKey), header, FRAME_OFFSETS.senderKey);
    }
    const key = entry.key;
    if (key === null) return 'bad_key';

    // 4. AEAD, into the reused buffer. Nothing is parsed before this succeeds.
    const n = d.length - FRAME_SIZES.overhead;
    let plain = this.recvPlainView;
    if (plain.length !== n) {
      plain = this.recvPlain.subarray(0, n);
      this.recvPlainView = plain;
      this.recvBodyView = this.recvPlain.subarray(1, n);
      this.recvSealedView = this.recvFrame.subarray(FRAME_OFFSETS.ciphertext, d.length);
    }
    if (!this.aead.openInto(plain, key, this.recvNonce, this.recvSealedView, header)) return 'aead';

    // 5. Clock window.
    const sendTimeMs = readU64BE(header, FRAME_OFFSETS.sendTime);
    if (Math.abs(sendTimeMs - now) > this.clockWindowMs) return 'clock';

    // 6. Replay window (only authenticated frames inside the clock window reach it).
    const packetNumber = readU64BE(header, FRAME_OFFSETS.packetNumber);
    if (this.replay.check(entry.id, packetNumber, sendTimeMs) !== 'ok') return 'replay';
    this.amplification.noteReceived(addr, d.length);

    // 7. Decode. One message (the common case) without the split's item list; a pack is split
    //    and every message decoded before any is handed over.
    const kind = plain[0]!;
    if (kind !== KIND_PACK) {
      const m = this.decodeOne(kind, this.recvBodyView, entry.publicKey, from);
      if (m === DECODE_FAILED) return 'decode';
      // 8. Hand over.
      const source: FrameSource = { senderKey: entry.publicKey, address: from, sendTimeMs, packetNumber };
      this.handled++;
      this.messages++;
      try {
        this.messageHandler(m, source);
      } catch {
        this.handlerErrors++;
      }
      return null;
    }
    const split = splitPlaintext(plain);
    if (!split.ok) return 'decode';
    const decoded = this.decodeAll(split.items, entry.publicKey, from);
    if (decoded === null) return 'decode';

    // 8. Hand over.
    const source: FrameSource = { senderKey: entry.publicKey, address: from, sendTimeMs, packetNumber };
    this.handled++;
    for (const m of decoded) {
      this.messages++;
      try {
        this.messageHandler(m, source);
      } catch {
        this.handlerErrors++;
      }
    }
    return null;
  }

  /** Decodes one message; DECODE_FAILED (REJECTs reported) when the codec refuses or throws. */
  private decodeOne(kind: number, body: Uint8Array, senderKey: Uint8Array, from: PeerAddress): M | typeof DECODE_FAILED {
    let r;
    try {
      r = this.codec.decode(kind, body);
    } catch {
      return DECODE_FAILED; // a codec bug: IGNORE
    }
    if (r.ok) return r.message;
    if (r.consequence === 'REJECT') {
      this.rejected++;
      try {
        this.rejectHandler(senderKey, from, r.code);
      } catch {
        this.handlerErrors++;
      }
    }
    return DECODE_FAILED;
  }

  private decodeAll(items: readonly PlaintextItem[], senderKey: Uint8Array, from: PeerAddress): M[] | null {
    const packed = items.length > 1;
    const out: M[] = [];
    for (const it of items) {
      if (packed && !this.codec.packable(it.kind)) return null;
      const m = this.decodeOne(it.kind, it.body, senderKey, from);
      if (m === DECODE_FAILED) return null;
      out.push(m);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Send.

  /**
   * Sends messages to one receiver now, packing consecutive packable messages into shared
   * frames (order is kept). Returns what was sent; drops are counted by reason.
   */
  send(to: FrameDestination, messages: readonly M[], opts: SendOptions = {}): SendReport {
    let frames = 0;
    let messagesSent = 0;
    let messagesDropped = 0;
    if (!this.started) {
      this.sendDrop.not_started++;
      return { frames, messagesSent, messagesDropped: messages.length };
    }
    const initiate = opts.initiate === true;
    let group: EncodedItem<M>[] = [];
    let groupSize = PACK_SIZES.header;
    const emit = (items: EncodedItem<M>[]): void => {
      if (items.length === 0) return;
      if (this.emitFrame(to, items, initiate)) {
        frames++;
        messagesSent += items.length;
      } else {
        messagesDropped += items.length;
      }
    };
    const flushGroup = (): void => {
      emit(group);
      group = [];
      groupSize = PACK_SIZES.header;
    };
    for (const message of messages) {
      const kind = this.codec.kindOf(message);
      const size = this.codec.bodySize(message);
      if (!Number.isInteger(kind) || kind < 1 || kind > 255 || !Number.isInteger(size) || size < 0 || singleSize(size) > this.maxPlaintext) {
        this.sendDrop.bad_message++;
        messagesDropped++;
        continue;
      }
      const item = { message, kind, size };
      if (!this.codec.packable(kind)) {
        flushGroup();
        emit([item]);
        continue;
      }
      if (group.length > 0 && (groupSize + packItemSize(size) > this.maxPlaintext || group.length >= MAX_PACKED_MESSAGES)) {
        flushGroup();
      }
      group.push(item);
      groupSize += packItemSize(size);
    }
    flushGroup();
    return { frames, messagesSent, messagesDropped };
  }

  /**
   * Queues a message for `to`; everything queued in this event-loop turn is sent (and packed)
   * together on the next turn, or by `flush()`. A held message waits for the next flush.
   */
  queue(to: FrameDestination, message: M, opts: SendOptions = {}): void {
    if (!this.started) {
      this.sendDrop.not_started++;
      return;
    }
    const k = `${keyId(to.publicKey)}|${addressKey(to.address)}`;
    let p = this.pending.get(k);
    if (p === undefined) {
      p = { to, messages: [], initiate: false };
      this.pending.set(k, p);
    }
    p.messages.push(message);
    if (opts.initiate === true) p.initiate = true;
    if (opts.hold !== true && this.flushImmediate === null) this.flushImmediate = setImmediate(() => this.flush());
  }

  /** Sends everything queued. */
  flush(): void {
    if (this.flushImmediate !== null) clearImmediate(this.flushImmediate);
    this.flushImmediate = null;
    const batch = [...this.pending.values()];
    this.pending.clear();
    for (const p of batch) this.send(p.to, p.messages, { initiate: p.initiate });
  }

  /** Builds, seals and sends one frame. False when it was dropped (counted). */
  private emitFrame(to: FrameDestination, items: readonly EncodedItem<M>[], initiate: boolean): boolean {
    const single = items.length === 1;
    let n = single ? singleSize(items[0]!.size) : PACK_SIZES.header;
    if (!single) for (const it of items) n += packItemSize(it.size);
    const size = frameSize(n);

    if (to.publicKey.length !== 32) {
      this.sendDrop.bad_key++;
      return false;
    }
    const id = keyId(to.publicKey);
    const entry = this.pairKeys.get(id) ?? this.pairKeys.compute(id, to.publicKey);
    if (entry.key === null) {
      this.sendDrop.bad_key++;
      return false;
    }
    if (!this.amplification.allowSend(addressKey(to.address), size, initiate)) {
      this.sendDrop.amplification++;
      return false;
    }

    const plain = this.sendPlain;
    if (single) {
      const it = items[0]!;
      plain[0] = it.kind;
      this.codec.encodeBody(it.message, plain.subarray(1, 1 + it.size));
    } else {
      plain[0] = KIND_PACK;
      plain[1] = items.length;
      let off = PACK_SIZES.header;
      for (const it of items) {
        const len = 1 + it.size;
        plain[off] = len >>> 8;
        plain[off + 1] = len & 0xff;
        plain[off + 2] = it.kind;
        this.codec.encodeBody(it.message, plain.subarray(off + 3, off + 3 + it.size));
        off += PACK_SIZES.itemLength + len;
      }
    }

    const frame = Buffer.allocUnsafe(size);
    encodeFrame(
      this.aead,
      entry.key,
      {
        senderKey: this.identity.publicKey,
        sendTimeMs: Math.floor(this.clock()),
        packetNumber: this.nextPacketNumber++,
        nonceRandom: this.random16(),
      },
      plain.subarray(0, n),
      frame,
    );
    this.transport.send(frame, to.address);
    this.sent.frames++;
    this.sent.bytes += size;
    this.sent.messages += items.length;
    if (!single) this.sent.packedFrames++;
    return true;
  }

  private random16(): Uint8Array {
    if (this.randomOffset + 16 > RANDOM_POOL_BYTES) {
      this.randomFill(this.randomPool);
      this.randomOffset = 0;
    }
    const r = this.randomPool.subarray(this.randomOffset, this.randomOffset + 16);
    this.randomOffset += 16;
    return r;
  }

  // -------------------------------------------------------------------------------------------
  // Address validation and introspection.

  /** The protocol core has proof that `address` receives our frames (e.g. a PONG echoing a PING token). */
  validateAddress(address: PeerAddress): void {
    this.amplification.validate(addressKey(address));
  }

  addressState(address: PeerAddress): AddressState | null {
    return this.amplification.state(addressKey(address));
  }

  /** The next packet number we will send. */
  get packetNumber(): number {
    return this.nextPacketNumber;
  }

  counters(): FrameCounters {
    return {
      received: this.received,
      handled: this.handled,
      messages: this.messages,
      drop: { ...this.drop },
      rejected: this.rejected,
      keyAgreements: this.keyAgreements,
      handlerErrors: this.handlerErrors,
      sent: { ...this.sent },
      sendDrop: { ...this.sendDrop },
    };
  }

  /** Sizes of the bounded tables (for metrics and tests). */
  tableSizes(): { readonly pairKeys: number; readonly replaySenders: number; readonly addresses: number; readonly amplification: number } {
    return {
      pairKeys: this.pairKeys.size,
      replaySenders: this.replay.size,
      addresses: this.addressLimiter.size,
      amplification: this.amplification.size,
    };
  }
}
