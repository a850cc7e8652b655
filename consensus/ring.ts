/**
 * A peer's view of the ring (PROTOCOL §5.1): a set of peers sorted by address, windows by set
 * membership, and the closest members to a key.
 *
 * window(k): with j the index of the first member at or above k (wrapping), the members at
 * indices j − w .. j + w (mod n): w below and w + 1 at or above. With n ≤ 2w + 2 every member is
 * in every window. Members are peer integers (keys.ts `PeerIds`); positions are their 48-bit
 * prefixes, with the full address deciding between equal prefixes.
 */
import type { Hex } from './hex.js';
import { compare32, PREFIX_SPACE, prefix48 } from './keys.js';
import type { PeerIds } from './keys.js';

const RING = 1n << 256n;

/** Exact ring distance between two 256-bit keys given as hex, the shorter way round (API use). */
export function ringDistance(a: Hex, b: Hex): bigint {
  const diff = BigInt('0x' + a) - BigInt('0x' + b);
  const d = diff < 0n ? -diff : diff;
  return d < RING - d ? d : RING - d;
}

/** Ring distance of two 48-bit positions, the shorter way round. */
export function prefixDistance(a: number, b: number): number {
  const d = a > b ? a - b : b - a;
  return d < PREFIX_SPACE - d ? d : PREFIX_SPACE - d;
}

export class Ring {
  /** Peer integers in ring order. */
  private readonly members: Int32Array;
  private readonly pos: Float64Array;
  private readonly addrs: readonly Uint8Array[];
  private readonly index = new Map<number, number>();

  private constructor(peers: PeerIds, ids: number[]) {
    ids.sort((x, y) => peers.prefix(x) - peers.prefix(y) || compare32(peers.address(x), peers.address(y)));
    this.members = Int32Array.from(ids);
    this.pos = Float64Array.from(ids, (id) => peers.prefix(id));
    this.addrs = ids.map((id) => peers.address(id));
    ids.forEach((id, i) => this.index.set(id, i));
  }

  /** A ring of the given peer integers (duplicates and `exclude` left out). */
  static of(peers: PeerIds, ids: Iterable<number>, exclude = -1): Ring {
    const set = new Set<number>();
    for (const id of ids) if (id !== exclude) set.add(id);
    return new Ring(peers, [...set]);
  }

  get size(): number {
    return this.members.length;
  }

  has(peer: number): boolean {
    return this.index.has(peer);
  }

  indexOf(peer: number): number | undefined {
    return this.index.get(peer);
  }

  at(i: number): number {
    const n = this.members.length;
    return this.members[((i % n) + n) % n] as number;
  }

  /** Index of the first member at or above `key`, wrapping to 0 past the top. Requires size > 0. */
  successor(key: Uint8Array, kp = prefix48(key)): number {
    let lo = 0;
    let hi = this.members.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.pos[mid] as number;
      if (p < kp || (p === kp && compare32(this.addrs[mid] as Uint8Array, key) < 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.members.length ? 0 : lo;
  }

  /** True when every member is in every window (n ≤ 2w + 2). */
  wholeRing(w: number): boolean {
    return this.members.length <= 2 * w + 2;
  }

  /** Membership of the member at `index` in the window whose successor index is `j`. */
  inWindowAt(j: number, index: number, w: number): boolean {
    const n = this.members.length;
    if (n <= 2 * w + 2) return true;
    const d = (((index - j) % n) + n) % n;
    return d <= w || d >= n - w;
  }

  inWindow(key: Uint8Array, peer: number, w: number): boolean {
    const i = this.index.get(peer);
    if (i === undefined) return false;
    return this.wholeRing(w) || this.inWindowAt(this.successor(key), i, w);
  }

  window(key: Uint8Array, w: number): number[] {
    const n = this.members.length;
    if (n === 0) return [];
    if (this.wholeRing(w)) return Array.from(this.members);
    const j = this.successor(key);
    const out: number[] = [];
    for (let d = -w; d <= w; d++) out.push(this.at(j + d));
    return out;
  }

  /** The `count` members closest to `key` by ring distance (ties: lower index first). */
  closest(key: Uint8Array, count: number): number[] {
    const n = this.members.length;
    if (n === 0 || count <= 0) return [];
    const kp = prefix48(key);
    const cand: number[] = [];
    if (n <= 2 * count) {
      for (let i = 0; i < n; i++) cand.push(i);
    } else {
      const j = this.successor(key, kp);
      for (let d = -count; d < count; d++) cand.push((((j + d) % n) + n) % n);
    }
    const dist = (i: number): number => prefixDistance(this.pos[i] as number, kp);
    cand.sort((x, y) => dist(x) - dist(y) || x - y);
    return cand.slice(0, count).map((i) => this.members[i] as number);
  }
}
