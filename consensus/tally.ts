/**
 * Tallies and the commit rule (PROTOCOL §5.3 without its witness count: docs/consensus.md). For
 * block B at one peer, per entry i over the recorded voters v in window(token_i) of the peer's
 * Connected ring:
 *   p_i = #v voting `+` on i (a committed vote counts `+` on every entry)
 *   n_i = #v voting `−` on i (a rejected vote counts `−` on every entry)
 * Commit when every p_i ≥ min(q, window size) and p_i − n_i > T. Peers outside the ring never
 * count.
 *
 * Learning: B is also committed once T + 1 distinct peers report it committed while claiming
 * to host one of its tokens (the host bits of a committed vote); with at most T liars one of
 * them is honest and committed on a quorum.
 */
import type { Ring } from './ring.js';
import { isCommittedMasks, isRejectedMasks, HOST_BITS } from './votes.js';
import type { VoteRecord } from './votes.js';

export interface Tally {
  readonly pos: readonly number[];
  readonly neg: readonly number[];
}

export function tally(ring: Ring, w: number, tokens: readonly Uint8Array[], votes: ReadonlyMap<number, VoteRecord>): Tally {
  const n = tokens.length;
  const pos = new Array<number>(n).fill(0);
  const neg = new Array<number>(n).fill(0);
  if (ring.size === 0 || votes.size === 0) return { pos, neg };
  const whole = ring.wholeRing(w);
  const tokenJ = whole ? [] : tokens.map((k) => ring.successor(k));
  for (const [voter, v] of votes) {
    const index = ring.indexOf(voter);
    if (index === undefined) continue;
    const committed = isCommittedMasks(v.pos, v.neg);
    const rejected = isRejectedMasks(v.pos, v.neg);
    for (let i = 0; i < n; i++) {
      if (!whole && !ring.inWindowAt(tokenJ[i] as number, index, w)) continue;
      if (committed || (v.pos >> i) & 1) pos[i] = (pos[i] as number) + 1;
      else if (rejected || (v.neg >> i) & 1) neg[i] = (neg[i] as number) + 1;
    }
  }
  return { pos, neg };
}

/**
 * The commit rule: quorum and +T on every entry. `members`: the size
 * of a window (2w + 1, or the whole ring when it is smaller); a window smaller than the quorum (a
 * network of fewer than q + 1 peers) needs every member's `+`.
 */
export function meetsQuorum(t: Tally, quorum: number, threshold: number, members = quorum): boolean {
  const q = Math.min(quorum, members);
  for (let i = 0; i < t.pos.length; i++) {
    const p = t.pos[i] as number;
    if (p < q || p - (t.neg[i] as number) <= threshold) return false;
  }
  return true;
}

/** Distinct voters whose committed vote claims to host one of the block's tokens. */
export function hostReports(votes: ReadonlyMap<number, VoteRecord>): number {
  let k = 0;
  for (const v of votes.values()) if (isCommittedMasks(v.pos, v.neg) && (v.pos & HOST_BITS) !== 0) k++;
  return k;
}
