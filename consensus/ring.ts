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

export class Ring {
  private readonly sorted: readonly Hex[];
  private readonly pos: ReadonlyMap<Hex, number>;
  private readonly addr: ReadonlyMap<Hex, Uint8Array>;
  private nums: bigint[] | undefined;

  private constructor(byHex: Map<Hex, Uint8Array>) {
    this.sorted = [...byHex.keys()].sort();
    this.pos = new Map(this.sorted.map((h, i) => [h, i]));
    this.addr = byHex;
  }

  /** A ring of the given 32-byte addresses, without `exclude` (the peer itself). */
  static of(addresses: Iterable<Uint8Array>, exclude?: Hex): Ring {
    const byHex = new Map<Hex, Uint8Array>();
    for (const a of addresses) {
      if (!(a instanceof Uint8Array) || a.length !== 32) continue;
      const h = toHex(a);
      if (h !== exclude) byHex.set(h, Uint8Array.from(a));
    }
    return new Ring(byHex);
  }

  get size(): number {
    return this.sorted.length;
  }

  members(): readonly Hex[] {
    return this.sorted;
  }

  has(member: Hex): boolean {
    return this.pos.has(member);
  }

  indexOf(member: Hex): number | undefined {
    return this.pos.get(member);
  }

  at(index: number): Hex {
    const n = this.sorted.length;
    return this.sorted[((index % n) + n) % n] as Hex;
  }

  address(member: Hex): Uint8Array | undefined {
    return this.addr.get(member);
  }

  /** Index of the first member at or above `key`, wrapping to 0 past the top. Requires size > 0. */
  successor(key: Hex): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sorted[mid] as Hex) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.sorted.length ? 0 : lo;
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
    const index = this.pos.get(member);
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
    const nums = this.numbers();
    const scored = [...candidates].map((i) => {
      const diff = (nums[i] as bigint) - k;
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

  private numbers(): bigint[] {
    if (this.nums === undefined) this.nums = this.sorted.map((h) => BigInt('0x' + h));
    return this.nums;
  }
}
