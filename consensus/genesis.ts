/**
 * The genesis set (docs/network.md): 2^bits final tokens every peer of a network can derive,
 * evenly spaced on the ring with pseudo-random low bits,
 *
 *   token_i = (i << (32 − bits)) as 4 big-endian bytes ‖ BLAKE3("ec/genesis/v1" ‖ network_id_be64 ‖ i_be32)[0..28]
 *
 * all mapped to GENESIS_BLOCK. A peer stores those within `reach` of its address (a share of the
 * ring). They give a young network the aligned storage that proofs of storage walk (PROTOCOL §7),
 * as EcNode's genesis does: a proof needs about 5 × 1 024 stored tokens on each side of the token
 * asked about, far more than a young network has committed. Spacing them evenly lets a peer derive
 * only the tokens within its reach.
 *
 * A table holds the stored tokens in ring order and, per value of the low 10 bits, their indices
 * in ring order, so the next token with given low bits is one binary search (`nextMatch`) instead
 * of a walk over ~1 024 tokens.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import type { ProofPair } from '../wire/msg-answer.js';
import type { RingDirection } from '../store/ring-walk.js';
import { compare32, prefix48, PREFIX_SPACE } from './keys.js';
import { buildStorageProofByMatch, lowBits } from './storage-proof.js';

const DOMAIN = new TextEncoder().encode('ec/genesis/v1');
const BLOCK_DOMAIN = new TextEncoder().encode('ec/genesis-block/v1');
const LOW_VALUES = 1024;
export const MAX_GENESIS_BITS = 24;

export function genesisBlock(blake3: Blake3Kernel, networkId: bigint): Uint8Array {
  const buf = new Uint8Array(BLOCK_DOMAIN.length + 8);
  buf.set(BLOCK_DOMAIN);
  new DataView(buf.buffer).setBigUint64(BLOCK_DOMAIN.length, networkId);
  return blake3.hash(buf);
}

/** Genesis token `i` of a set of 2^bits. */
export function genesisToken(blake3: Blake3Kernel, networkId: bigint, bits: number, i: number): Uint8Array {
  const buf = new Uint8Array(DOMAIN.length + 12);
  buf.set(DOMAIN);
  const dv = new DataView(buf.buffer);
  dv.setBigUint64(DOMAIN.length, networkId);
  dv.setUint32(DOMAIN.length + 8, i);
  const t = new Uint8Array(32);
  t.set(blake3.hash(buf).subarray(0, 28), 4);
  new DataView(t.buffer).setUint32(0, (i * 2 ** (32 - bits)) >>> 0);
  return t;
}

/** Ring distance between two 48-bit positions. */
export function ringDistance(a: number, b: number): number {
  const d = Math.abs(a - b);
  return Math.min(d, PREFIX_SPACE - d);
}

export class GenesisTable {
  readonly block: Uint8Array;
  /** The stored tokens in ring order. */
  readonly tokens: readonly Uint8Array[];
  private readonly positions: Float64Array;
  /** Per low-10-bit value, indices into `tokens` in ring order. */
  private readonly byLow: Int32Array[];

  /** The tokens within `reach` (≤ 0.5 of the ring) of `center`, or all of them. */
  constructor(blake3: Blake3Kernel, networkId: bigint, bits: number, around?: { readonly center: Uint8Array; readonly reach: number }) {
    if (!Number.isInteger(bits) || bits < 0 || bits > MAX_GENESIS_BITS) throw new RangeError(`genesis bits must be 0…${MAX_GENESIS_BITS}`);
    this.block = genesisBlock(blake3, networkId);
    const count = 2 ** bits;
    let indices: number[];
    if (around === undefined || around.reach >= 0.5) indices = Array.from({ length: count }, (_, i) => i);
    else {
      // Token i sits at i / count of the ring (its first 32 bits); one spacing of margin each side.
      const c = (prefix48(around.center) / PREFIX_SPACE) * count;
      const r = around.reach * count + 1;
      const set = new Set<number>();
      for (let k = Math.floor(c - r); k <= Math.ceil(c + r); k++) set.add(((k % count) + count) % count);
      indices = [...set].sort((a, b) => a - b);
    }
    const tokens = indices.map((i) => genesisToken(blake3, networkId, bits, i));
    this.tokens = tokens;
    this.positions = Float64Array.from(tokens, prefix48);
    const counts = new Int32Array(LOW_VALUES);
    const lows = Uint16Array.from(tokens, lowBits);
    for (const l of lows) counts[l] = (counts[l] as number) + 1;
    this.byLow = Array.from(counts, (n) => new Int32Array(n));
    counts.fill(0);
    lows.forEach((l, i) => {
      (this.byLow[l] as Int32Array)[counts[l] as number] = i;
      counts[l] = (counts[l] as number) + 1;
    });
  }

  /** The peer at `address` storing what lies within `reach` (a share of the ring, ≤ 0.5) of it. */
  view(address: Uint8Array, reach: number): GenesisView {
    return new GenesisView(this, prefix48(address), reach * PREFIX_SPACE);
  }

  /** First index in `list` whose token is above `token` (list.length when none). */
  firstAbove(list: Int32Array, token: Uint8Array): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare32(this.tokens[list[mid] as number] as Uint8Array, token) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  list(low: number): Int32Array {
    return this.byLow[low] as Int32Array;
  }

  position(i: number): number {
    return this.positions[i] as number;
  }
}

/** One peer's stored part of the genesis set. */
export class GenesisView {
  constructor(
    private readonly table: GenesisTable,
    private readonly center: number,
    private readonly reach: number,
  ) {}

  holds(position: number): boolean {
    return ringDistance(position, this.center) <= this.reach;
  }

  /** Whether stepping from `from` to `to` in `direction` passes the edge of the arc. */
  private beyondEdge(from: number, to: number, direction: RingDirection): boolean {
    if (this.reach >= PREFIX_SPACE / 2) return false;
    const up = (a: number, b: number): number => (((b - a) % PREFIX_SPACE) + PREFIX_SPACE) % PREFIX_SPACE;
    return direction === 'up' ? up(from, to) > up(from, this.center + this.reach) : up(to, from) > up(this.center - this.reach, from);
  }

  /**
   * The first stored token strictly beyond `from` in `direction` whose low 10 bits are `low`,
   * wrapping at most once; null when none is stored before the walk comes back to `from`.
   */
  nextMatch(from: Uint8Array, direction: RingDirection, low: number): ProofPair | null {
    const list = this.table.list(low);
    const n = list.length;
    if (n === 0) return null;
    const above = this.table.firstAbove(list, from);
    for (let k = 0; k < n; k++) {
      // Up: indices above, wrapping; down: indices at or below `from`, minus equal, wrapping.
      let at: number;
      if (direction === 'up') at = (above + k) % n;
      else {
        at = (above - 1 - k + 2 * n) % n;
        if (k === 0 && compare32(this.table.tokens[list[at] as number] as Uint8Array, from) === 0) continue;
      }
      const i = list[at] as number;
      // Walks start inside the stored arc (callers check `holds`) and end at its edge: a table
      // built for the arc alone wraps from one edge to the other, which is not a step onward.
      const p = this.table.position(i);
      if (!this.holds(p) || this.beyondEdge(prefix48(from), p, direction)) return null;
      return { token: this.table.tokens[i] as Uint8Array, block: this.table.block };
    }
    return null;
  }
}

/**
 * A peer's storage proof about `token` for `requester` over its genesis view, bound to the block
 * it maps the token to (all zero when none); null outside the view or when the walk runs out.
 */
export function genesisProof(blake3: Blake3Kernel, view: GenesisView, mapped: Uint8Array | undefined, requester: Uint8Array, token: Uint8Array): { block: Uint8Array; pairs: ProofPair[] } | null {
  if (!view.holds(prefix48(token))) return null;
  const block = mapped ?? new Uint8Array(32);
  const pairs = buildStorageProofByMatch(blake3, view, requester, token, block);
  return pairs === null ? null : { block, pairs };
}
