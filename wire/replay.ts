/**
 * Replay filter (PROTOCOL §3 step 6): per sender key, an RFC 6479 sliding window over packet
 * numbers, in a bounded LRU of active senders. Checked only after the AEAD has authenticated the
 * frame, so a forged frame can never move a window (wireguard-go `replay/`, `device/receive.go`).
 *
 * The window is a ring of REPLAY_BLOCKS 32-bit blocks. The newest packet number seen (`top`)
 * and the REPLAY_WINDOW − 1 numbers below it are tracked; anything older is refused as too old.
 * Moving `top` forward clears only the blocks it passes (at most the whole ring), so a jump of
 * any size costs O(REPLAY_BLOCKS) at worst and O(1) usually.
 *
 * Eviction. A bounded table that forgets a sender would accept that sender's recent frames again. The
 * clock window already refuses frames sent more than ±30 s from now, so only frames of the last
 * minute matter. On eviction the sender's newest accepted send time is folded (max) into a
 * fixed table of "floors" indexed by a salted hash of the sender key; a new window starts with
 * its slot's floor and refuses any frame sent at or before it. A collision can only make a
 * sender stricter, and only for frames sent before the evicted sender's last one — under the
 * clock window that is at most a minute. Memory is fixed: the table does not grow.
 *
 * Pure: no clock, no randomness (the hash salt is given).
 */

export const REPLAY_BLOCK_BITS = 32;
/** Ring size in blocks (a power of two). */
export const REPLAY_BLOCKS = 512;
/** Positions tracked per sender: (512 − 1) × 32 = 16 352 ≥ the 8 192 of PROTOCOL §3. */
export const REPLAY_WINDOW = (REPLAY_BLOCKS - 1) * REPLAY_BLOCK_BITS;
/** Packet numbers above this are refused (they could not be compared exactly as JS numbers). */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;

export type ReplayVerdict = 'ok' | 'duplicate' | 'too_old' | 'out_of_range' | 'before_floor';

/** One sender's window. */
export class ReplayWindow {
  private readonly ring = new Uint32Array(REPLAY_BLOCKS);
  /** Highest packet number accepted; −1 before the first. */
  private top = -1;

  /** Would `n` be accepted? Does not change the window. */
  peek(n: number): ReplayVerdict {
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_PACKET_NUMBER) return 'out_of_range';
    if (this.top < 0 || n > this.top) return 'ok';
    if (this.top - n >= REPLAY_WINDOW) return 'too_old';
    const block = Math.floor(n / REPLAY_BLOCK_BITS) % REPLAY_BLOCKS;
    const bit = 1 << n % REPLAY_BLOCK_BITS;
    return (this.ring[block]! & bit) !== 0 ? 'duplicate' : 'ok';
  }

  /** Checks `n` and, when accepted, records it. */
  check(n: number): ReplayVerdict {
    const v = this.peek(n);
    if (v !== 'ok') return v;
    const index = Math.floor(n / REPLAY_BLOCK_BITS);
    if (n > this.top) {
      if (this.top < 0) {
        this.ring.fill(0);
      } else {
        const topIndex = Math.floor(this.top / REPLAY_BLOCK_BITS);
        // Clear every block the window moves into (at most the whole ring).
        const steps = Math.min(index - topIndex, REPLAY_BLOCKS);
        for (let i = 1; i <= steps; i++) this.ring[(topIndex + i) % REPLAY_BLOCKS] = 0;
      }
      this.top = n;
    }
    const block = index % REPLAY_BLOCKS;
    this.ring[block] = (this.ring[block]! | (1 << n % REPLAY_BLOCK_BITS)) >>> 0;
    return 'ok';
  }

  /** The highest packet number accepted, or −1. */
  get highest(): number {
    return this.top;
  }
}

/**
 * A bounded cache with approximately-LRU eviction, used for every per-sender and per-address
 * table of the receive path (replay windows here; rate-limit buckets, pair keys, address states
 * elsewhere). Two generations of at most maxEntries/2 each: lookups check the current one, then
 * the previous one (a hit there moves the entry to the current one); when the current one is
 * full it becomes the previous one and the old previous one is dropped whole. So an entry
 * unused for between maxEntries/2 and maxEntries insertions is evicted, and an entry used at
 * least once per maxEntries/2 insertions never is.
 *
 * Why not `Map` delete+set as an LRU: V8's ordered hash table keeps deleted entries until it
 * rehashes, so re-inserting the same key makes its bucket chain grow, and finding the oldest
 * entry (`keys().next()`) skips every hole at the front. Measured here on a full 65 536-entry
 * map: about 80 µs per same-key touch and 22 µs per insert-and-evict — a spoofed-source flood
 * would turn that into a denial of service. Here a table only ever grows by appends, is
 * dropped whole, and deletes only from the previous generation (never appended to again).
 */
export class GenerationalCache<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  private readonly half: number;
  /** Entries dropped so far. */
  evicted = 0;

  /** `onEvict` is called for every entry of a dropped generation. */
  constructor(
    readonly maxEntries: number,
    private readonly onEvict?: (key: string, value: V) => void,
  ) {
    if (!(maxEntries >= 1)) throw new RangeError('maxEntries must be ≥ 1');
    this.half = Math.max(1, Math.floor(maxEntries / 2));
  }

  /** The entry, refreshed as recently used; undefined when absent. */
  get(key: string): V | undefined {
    const v = this.current.get(key);
    if (v !== undefined) return v;
    const p = this.previous.get(key);
    if (p === undefined) return undefined;
    this.previous.delete(key);
    this.append(key, p);
    return p;
  }

  /** The entry, without refreshing it. */
  peek(key: string): V | undefined {
    return this.current.get(key) ?? this.previous.get(key);
  }

  set(key: string, value: V): void {
    if (this.current.has(key)) {
      this.current.set(key, value);
      return;
    }
    this.previous.delete(key);
    this.append(key, value);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  private append(key: string, value: V): void {
    this.current.set(key, value);
    if (this.current.size >= this.half) {
      const dropped = this.previous;
      this.previous = this.current;
      this.current = new Map();
      this.evicted += dropped.size;
      if (this.onEvict !== undefined) for (const [k, v] of dropped) this.onEvict(k, v);
    }
  }
}

export interface ReplayFilterOptions {
  /** Active senders kept (default 4 096; about 2.2 KiB each). Eviction: see GenerationalCache. */
  readonly maxSenders?: number;
  /** Eviction floor table size, rounded up to a power of two (default 16 384 slots, 8 B each). */
  readonly floorSlots?: number;
  /** Salt of the floor-slot hash (u32). The daemon passes a random one; tests a fixed one. */
  readonly salt?: number;
}

interface SenderEntry {
  readonly window: ReplayWindow;
  /** Frames sent at or before this time are refused (from the eviction floor; −∞ if none). */
  readonly floorMs: number;
  /** Newest send time accepted from this sender. */
  newestSendMs: number;
}

export const DEFAULT_REPLAY_MAX_SENDERS = 4096;
export const DEFAULT_REPLAY_FLOOR_SLOTS = 16_384;

/**
 * The replay filter: windows per sender in a bounded LRU, plus the eviction floor table.
 * Senders are identified by a string (the endpoint uses the 32-byte key as a latin1 string).
 */
export class ReplayFilter {
  private readonly senders: GenerationalCache<SenderEntry>;
  private readonly floors: Float64Array;
  private readonly slotMask: number;
  private readonly salt: number;

  constructor(opts: ReplayFilterOptions = {}) {
    const maxSenders = Math.max(1, Math.floor(opts.maxSenders ?? DEFAULT_REPLAY_MAX_SENDERS));
    let slots = 1;
    const want = Math.max(1, Math.floor(opts.floorSlots ?? DEFAULT_REPLAY_FLOOR_SLOTS));
    while (slots < want) slots *= 2;
    this.floors = new Float64Array(slots).fill(-Infinity);
    this.slotMask = slots - 1;
    this.salt = (opts.salt ?? 0x9e3779b9) >>> 0;
    this.senders = new GenerationalCache<SenderEntry>(maxSenders, (key, old) => {
      const s = this.slot(key);
      if (old.newestSendMs > this.floors[s]!) this.floors[s] = old.newestSendMs;
    });
  }

  /**
   * Checks packet number `n` of a frame from `sender` sent at `sendTimeMs`, and records it when
   * accepted. Call only for authenticated frames inside the clock window.
   */
  check(sender: string, n: number, sendTimeMs: number): ReplayVerdict {
    let e = this.senders.get(sender);
    if (e === undefined) {
      const floorMs = this.floors[this.slot(sender)]!;
      // Refuse before creating: a frame that would be refused must not evict anyone.
      if (sendTimeMs <= floorMs) return 'before_floor';
      e = { window: new ReplayWindow(), floorMs, newestSendMs: -Infinity };
      const pre = e.window.peek(n);
      if (pre !== 'ok') return pre;
      this.senders.set(sender, e);
    } else if (sendTimeMs <= e.floorMs) {
      return 'before_floor';
    }
    const v = e.window.check(n);
    if (v === 'ok' && sendTimeMs > e.newestSendMs) e.newestSendMs = sendTimeMs;
    return v;
  }

  /** FNV-1a over the salt and the key's UTF-16 code units (latin1 bytes here). */
  private slot(sender: string): number {
    let h = (0x811c9dc5 ^ this.salt) >>> 0;
    for (let i = 0; i < sender.length; i++) {
      h ^= sender.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0) & this.slotMask;
  }

  get size(): number {
    return this.senders.size;
  }

  get evicted(): number {
    return this.senders.evicted;
  }
}
