/**
 * The pair-key cache of the receive and send paths (PROTOCOL §3 step 3): Ed25519 sender key →
 * pair key, in a bounded cache (approximately LRU, `GenerationalCache`). A miss costs a birational map, an X25519 and a BLAKE3 derive_key
 * (tens of µs with sodium-native, over a millisecond on the pure-JS path), so the receive path
 * only computes one when the global key-agreement budget allows (the caller checks it).
 *
 * Failures are cached too (`key: null`): a sender key that is not a valid point, is of small
 * order, or gives an all-zero X25519 result costs one budgeted attempt, not one per frame.
 */
import type { Blake3Kernel, Ed25519Kernel, X25519Kernel } from '../kernels/types.js';
import { derivePairKey } from '../wire/frame.js';
import { GenerationalCache } from '../wire/replay.js';

/** Our side of every pair key. */
export interface FrameIdentity {
  /** Ed25519 public key: the sender key in our frames. */
  readonly publicKey: Uint8Array;
  /** The X25519 secret converted from the Ed25519 seed. */
  readonly x25519Secret: Uint8Array;
}

export function frameIdentityFromSeed(ed25519: Ed25519Kernel, seed: Uint8Array): FrameIdentity {
  return { publicKey: ed25519.signerFromSeed(seed).publicKey, x25519Secret: ed25519.seedToX25519(seed) };
}

export interface PairKeyEntry {
  /** A private copy of the peer's Ed25519 key (safe to hand to handlers and keep). */
  readonly publicKey: Uint8Array;
  /** The pair key, or null when the peer key is unusable. */
  readonly key: Uint8Array | null;
  /**
   * `keyId(publicKey)`: the same string object for as long as the entry lives, so per-sender
   * tables keyed by it (the replay filter) find it by identity, its hash already computed.
   */
  readonly id: string;
}

export const DEFAULT_PAIR_KEY_CACHE_SIZE = 16_384;
/**
 * Slots of the recent-sender table in front of the cache, direct-mapped by the key's first byte.
 * A hit costs a 32-byte comparison instead of building the key's string and hashing it.
 */
export const PAIR_KEY_RECENT_SLOTS = 256;

interface RecentSender {
  /** The key's 32 bytes, private to this table. */
  readonly bytes: Uint8Array;
  readonly entry: PairKeyEntry;
}

/** a[0..32) equals b[off..off+32)? */
function equal32(a: Uint8Array, b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 32; i++) if (a[i] !== b[off + i]) return false;
  return true;
}

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;
/** Node's native latin1 decoder (Buffer#latin1Slice, works on any Uint8Array), if present. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice;

/** A 32-byte key as a map key (latin1: one char per byte, no copy of the bytes kept). */
export function keyId(bytes: Uint8Array, offset = 0): string {
  if (latin1Slice !== undefined) return latin1Slice.call(bytes, offset, offset + 32);
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, 32).toString('latin1');
}

export interface PairKeyModules {
  readonly ed25519: Ed25519Kernel;
  readonly x25519: X25519Kernel;
  readonly blake3: Blake3Kernel;
}

export class PairKeyCache {
  private readonly entries: GenerationalCache<PairKeyEntry>;
  /**
   * The entry last found or computed for each first key byte, with its own copy of the key bytes
   * to compare against (entry.publicKey is handed to handlers, which could modify it). It only
   * ever holds entries of `entries` (possibly since evicted there: a pair key never changes, so
   * using it stays right), and a fixed number of them.
   */
  private readonly recent: (RecentSender | undefined)[] = new Array<RecentSender | undefined>(PAIR_KEY_RECENT_SLOTS).fill(undefined);
  /** Pair keys computed (successful or not). */
  computed = 0;
  failed = 0;

  constructor(
    private readonly mods: PairKeyModules,
    private readonly identity: FrameIdentity,
    private readonly networkId: bigint,
    opts: { readonly maxEntries?: number } = {},
  ) {
    this.entries = new GenerationalCache<PairKeyEntry>(Math.max(1, Math.floor(opts.maxEntries ?? DEFAULT_PAIR_KEY_CACHE_SIZE)));
  }

  /** Cached entry for a key id (refreshed as recently used), or undefined on a miss. */
  get(id: string): PairKeyEntry | undefined {
    return this.entries.get(id);
  }

  /**
   * Cached entry for the 32-byte key at `bytes[offset]`, or undefined on a miss (then
   * `compute(keyId(bytes, offset), bytes, offset)`). The receive path's lookup: a sender seen
   * recently is found by comparing bytes, without building its id string.
   */
  find(bytes: Uint8Array, offset = 0): PairKeyEntry | undefined {
    const slot = bytes[offset]! & (PAIR_KEY_RECENT_SLOTS - 1);
    const r = this.recent[slot];
    if (r !== undefined && equal32(r.bytes, bytes, offset)) return r.entry;
    const e = this.entries.get(keyId(bytes, offset));
    if (e !== undefined) this.remember(e, bytes, offset);
    return e;
  }

  private remember(entry: PairKeyEntry, bytes: Uint8Array, offset: number): void {
    const slot = bytes[offset]! & (PAIR_KEY_RECENT_SLOTS - 1);
    this.recent[slot] = { bytes: Uint8Array.from(bytes.subarray(offset, offset + 32)), entry };
  }

  /** Computes and caches the entry for `publicKey` (32 bytes at `offset`). Never throws. */
  compute(id: string, publicKey: Uint8Array, offset = 0): PairKeyEntry {
    // Uint8Array.from copies (Buffer#slice would not).
    const pk = Uint8Array.from(publicKey.subarray(offset, offset + 32));
    this.computed++;
    let key: Uint8Array | null = null;
    try {
      const theirX25519 = pk.length === 32 ? this.mods.ed25519.publicKeyToX25519(pk) : null;
      if (theirX25519 !== null) {
        key = derivePairKey(this.mods, {
          ownX25519Secret: this.identity.x25519Secret,
          ownPublicKey: this.identity.publicKey,
          theirPublicKey: pk,
          theirX25519,
          networkId: this.networkId,
        });
      }
    } catch {
      key = null;
    }
    if (key === null) this.failed++;
    const e: PairKeyEntry = { publicKey: pk, key, id };
    this.entries.set(id, e);
    if (pk.length === 32) this.remember(e, pk, 0);
    return e;
  }

  get size(): number {
    return this.entries.size;
  }
}
