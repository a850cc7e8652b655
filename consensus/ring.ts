/**
 * The ring of one peer's Connected peers (PROTOCOL §5.1): sorted addresses, windows by set
 * membership, the closest peers to a key, and the outward polling pairs (digest §2.8).
 *
 * window(k): with j the index of the first member at or above k (wrapping), the members at
 * indices j − w .. j + w (mod n) — w below and w + 1 at or above. With n ≤ 2w + 2 every member is
 * in every window.
 */
import type { Hex } from './hex.js';
import { toHex } from './hex.js';

const RING = 1n << 256n;

/** Ring distance between two 256-bit keys (hex), the shorter way round. */
export function ringDistance(a: Hex, b: Hex): bigint {
  const diff = BigInt('0x' + a) - BigInt('0x' + b);
  const d = diff < 0n ? -diff : diff;
  return d < RING - d ? d : RING - d;
}

interface Interned {
  readonly hex: Hex;
  readonly bytes: Uint8Array;
}

/**
 * One private copy and one hex string per address object, shared by every ring built from it.
 * A simulator hands the same address objects to thousands of peers; without this each peer's
 * rings held their own copies and strings (3.2 GB at 2 000 dense peers). A hit is used only if
 * the caller's bytes still equal the copy, so a mutated array is re-interned, never trusted.
 */
const interned = new WeakMap<Uint8Array, Interned>();

function intern(a: Uint8Array): Interned {
  const hit = interned.get(a);
  if (hit !== undefined) {
    let same = true;
    for (let i = 0; i < 32; i++) {
      if (hit.bytes[i] !== a[i]) {
        same = false;
        break;
      }
    }
    if (same) return hit;
  }
  const v: Interned = { hex: toHex(a), bytes: Uint8Array.from(a) };
  interned.set(a, v);
  return v;
}

export class Ring {
  private readonly sorted: readonly Hex[];
  private readonly addrs: readonly Uint8Array[];

  private constructor(members: Interned[]) {
    members.sort((x, y) => (x.hex < y.hex ? -1 : x.hex > y.hex ? 1 : 0));
    this.sorted = members.map((m) => m.hex);
    this.addrs = members.map((m) => m.bytes);
  }

  /** A ring of the given 32-byte addresses, without `exclude` (the peer itself). */
  static of(addresses: Iterable<Uint8Array>, exclude?: Hex): Ring {
    const byHex = new Map<Hex, Interned>();
    for (const a of addresses) {
      if (!(a instanceof Uint8Array) || a.length !== 32) continue;
      const m = intern(a);
      if (m.hex !== exclude) byHex.set(m.hex, m);
    }
    return new Ring([...byHex.values()]);
  }

  get size(): number {
    return this.sorted.length;
  }

  members(): readonly Hex[] {
    return this.sorted;
  }

  has(member: Hex): boolean {
    return this.indexOf(member) !== undefined;
  }

  indexOf(member: Hex): number | undefined {
    const i = this.lowerBound(member);
    return i < this.sorted.length && this.sorted[i] === member ? i : undefined;
  }

  at(index: number): Hex {
    const n = this.sorted.length;
    return this.sorted[((index % n) + n) % n] as Hex;
  }

  address(member: Hex): Uint8Array | undefined {
    const i = this.indexOf(member);
    return i === undefined ? undefined : this.addrs[i];
  }

  /** Index of the first member at or above `key`, wrapping to 0 past the top. Requires size > 0. */
  successor(key: Hex): number {
    const lo = this.lowerBound(key);
    return lo === this.sorted.length ? 0 : lo;
  }

  /** Index of the first member ≥ key (size when none). */
  private lowerBound(key: Hex): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sorted[mid] as Hex) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True when every member is in every window (n ≤ 2w + 2). */
  wholeRing(w: number): boolean {
    return this.sorted.length <= 2 * w + 2;
  }

  /** Membership of the member at `index` in the window whose successor index is `j`. */
  inWindowAt(j: number, index: number, w: number): boolean {
    const n = this.sorted.length;
    if (n <= 2 * w + 2) return true;
    const d = (((index - j) % n) + n) % n;
    return d <= w || d >= n - w;
  }

  inWindow(key: Hex, member: Hex, w: number): boolean {
    const index = this.indexOf(member);
    if (index === undefined) return false;
    if (this.wholeRing(w)) return true;
    return this.inWindowAt(this.successor(key), index, w);
  }

  window(key: Hex, w: number): Hex[] {
    if (this.sorted.length === 0) return [];
    if (this.wholeRing(w)) return [...this.sorted];
    const j = this.successor(key);
    const out: Hex[] = [];
    for (let d = -w; d <= w; d++) out.push(this.at(j + d));
    return out;
  }

  /**
   * Clockwise ring distance from the lowest to the highest member of window(key), or undefined
   * when every member is in every window. Compared with the span of the window around the peer's
   * own address, it tells how thinly the peer knows the ring around `key`.
   */
  windowSpan(key: Hex, w: number): bigint | undefined {
    if (this.sorted.length === 0 || this.wholeRing(w)) return undefined;
    const j = this.successor(key);
    const d = BigInt('0x' + this.at(j + w)) - BigInt('0x' + this.at(j - w));
    return d < 0n ? d + RING : d;
  }

  /** The `count` members closest to `key` by ring distance (ties: lower address first). */
  closest(key: Hex, count: number): Hex[] {
    const n = this.sorted.length;
    if (n === 0 || count <= 0) return [];
    const candidates = new Set<number>();
    if (n <= 2 * count) {
      for (let i = 0; i < n; i++) candidates.add(i);
    } else {
      const j = this.successor(key);
      for (let d = -count; d < count; d++) candidates.add((((j + d) % n) + n) % n);
    }
    const k = BigInt('0x' + key);
    const scored = [...candidates].map((i) => {
      const diff = BigInt('0x' + (this.sorted[i] as Hex)) - k;
      const a = diff < 0n ? -diff : diff;
      return { i, dist: a < RING - a ? a : RING - a };
    });
    scored.sort((x, y) => (x.dist < y.dist ? -1 : x.dist > y.dist ? 1 : x.i - y.i));
    return scored.slice(0, count).map((s) => this.sorted[s.i] as Hex);
  }

  /** Polling pair s around `key`: {A[j − s − 1], A[j + s]} (one member when they coincide). */
  pair(key: Hex, s: number): Hex[] {
    const n = this.sorted.length;
    if (n === 0) return [];
    const j = this.successor(key);
    const below = this.at(j - s - 1);
    const above = this.at(j + s);
    return below === above ? [below] : [below, above];
  }
}
