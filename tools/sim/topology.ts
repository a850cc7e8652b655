/**
 * Peer graphs for simulations, over peers sorted by ring address (index i is the i-th address).
 * Links are symmetric: both ends hold each other in their Connected sets.
 *
 *   full   every peer Connected to every other (small N only)
 *   dense  EcNode's fixed dense-linear reference graph: ±10 guaranteed, then a link probability
 *          falling linearly from 1.0 next to the core to 0.2 at the far side of the ring (each peer
 *          knows about 60 % of the network; memory grows as N², keep N ≤ ~3 000)
 *   ring   ±8 core, linear fade to ±16 (EcNode's corrected ring), plus 4 far links (PROTOCOL §7's
 *          "a few far links")
 *
 * Far links are drawn with probability ∝ 1/distance (a small-world tail), so greedy routing
 * toward a key takes few hops.
 */
import { Rng } from './rng.js';

export type TopologyName = 'full' | 'dense' | 'ring';
export const TOPOLOGIES: readonly TopologyName[] = ['full', 'dense', 'ring'];

interface Shape {
  readonly core: number;
  readonly fade: number;
  readonly pNear: number;
  readonly pFar: number;
  readonly tail: number;
}

const SHAPES: Record<Exclude<TopologyName, 'full'>, Shape> = {
  dense: { core: 10, fade: Number.POSITIVE_INFINITY, pNear: 1.0, pFar: 0.2, tail: 0 },
  ring: { core: 8, fade: 16, pNear: 1.0, pFar: 0.0, tail: 4 },
};

/** Adjacency lists (peer indices) for `n` peers in ring order. */
export function buildTopology(name: TopologyName, n: number, rng: Rng): number[][] {
  const adj = Array.from({ length: n }, () => new Set<number>());
  const link = (a: number, b: number): void => {
    if (a === b) return;
    adj[a]?.add(b);
    adj[b]?.add(a);
  };
  if (name === 'full') {
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) link(a, b);
    return adj.map((s) => [...s]);
  }
  const s = SHAPES[name];
  const half = Math.floor(n / 2);
  for (let a = 0; a < n; a++) {
    const fade = Math.min(s.fade, half);
    // Forward distances 1..n/2 from every peer consider each pair once; links are symmetric.
    for (let d = 1; d <= fade; d++) {
      const p = d <= s.core ? 1 : s.pNear + ((s.pFar - s.pNear) * (d - s.core)) / Math.max(1, fade - s.core);
      if (d <= s.core || rng.chance(p)) link(a, (a + d) % n);
    }
    // Harmonic tail: distance d with probability ∝ 1/d over (fade, n/2].
    const lo = fade + 1;
    if (half > lo) {
      const ln = Math.log(half / lo);
      for (let k = 0; k < s.tail; k++) {
        const d = Math.floor(lo * Math.exp(rng.next() * ln));
        link(a, (a + (rng.chance(0.5) ? d : n - d)) % n);
      }
    }
  }
  return adj.map((set) => [...set]);
}
