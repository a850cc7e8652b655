/**
 * Token tallies and the witness count (PROTOCOL §5.3):
 *   t_i = Σ over recorded voters v ∈ window(token_i) of (bit i of v's mask ? +1 : −1)
 *   c   = #recorded voters v ∈ window(block id)
 * Only members of the Connected ring count; everyone else is ignored (set membership, §5.6).
 */
import type { Hex } from './hex.js';
import type { Ring } from './ring.js';

export interface Tally {
  readonly tokens: readonly number[];
  readonly witness: number;
}

export function tally(ring: Ring, w: number, tokens: readonly Hex[], blockId: Hex, votes: Iterable<readonly [Hex, number]>): Tally {
  const t = tokens.map(() => 0);
  let witness = 0;
  if (ring.size === 0) return { tokens: t, witness };
  const whole = ring.wholeRing(w);
  const tokenJ = whole ? [] : tokens.map((k) => ring.successor(k));
  const idJ = whole ? 0 : ring.successor(blockId);
  for (const [voter, mask] of votes) {
    const index = ring.indexOf(voter);
    if (index === undefined) continue;
    for (let i = 0; i < t.length; i++) {
      if (whole || ring.inWindowAt(tokenJ[i] as number, index, w)) t[i] = (t[i] as number) + ((mask >> i) & 1 ? 1 : -1);
    }
    if (whole || ring.inWindowAt(idJ, index, w)) witness++;
  }
  return { tokens: t, witness };
}

/** The +T rule: every token tally and the witness count strictly above T. */
export function meetsThreshold(t: Tally, threshold: number): boolean {
  return t.witness > threshold && t.tokens.every((x) => x > threshold);
}
