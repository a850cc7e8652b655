/**
 * Deciding an election (PROTOCOL §7, EcNode's alignment clustering): the answers to one challenge
 * token are clustered by how many of their ten proof pairs they share; the decisive cluster's
 * member closest to the challenge wins. Pure.
 *
 *   common(A, B)  pairs of A (token and block) that appear among B's
 *   cluster       answers that pairwise share ≥ `agree` pairs; at least `minCluster` of them
 *   decisive      the largest cluster holds ≥ `share` of the answers and no other cluster as large
 *                 is disjoint from it (a split view decides nothing)
 */
import type { ProofPair } from '../wire/msg-answer.js';
import { equal32 } from './keys.js';

export const ELECTION_RULES = { agree: 8, minCluster: 2, share: 0.6, maxAnswers: 10 } as const;

export interface ElectionAnswer {
  /** Ring distance of the responder to the challenge (smaller wins). */
  readonly distance: number;
  readonly pairs: readonly ProofPair[];
}

export function common(a: readonly ProofPair[], b: readonly ProofPair[]): number {
  let n = 0;
  for (const p of a) if (b.some((q) => equal32(p.token, q.token) && equal32(p.block, q.block))) n++;
  return n;
}

/** Index of the winning answer, or null when the answers decide nothing. */
export function electionWinner(answers: readonly ElectionAnswer[]): number | null {
  const n = Math.min(answers.length, ELECTION_RULES.maxAnswers);
  if (n < ELECTION_RULES.minCluster) return null;
  // Agreement as bit masks: agrees[i] has bit j when i and j share enough pairs.
  const agrees = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (common((answers[i] as ElectionAnswer).pairs, (answers[j] as ElectionAnswer).pairs) >= ELECTION_RULES.agree) {
        agrees[i] = (agrees[i] as number) | (1 << j);
        agrees[j] = (agrees[j] as number) | (1 << i);
      }
    }
  }
  // Every clique, largest first (n ≤ 10: at most 1 024 subsets).
  let best = 0;
  let bestSize = 0;
  let rivalSize = 0;
  const cliques: number[] = [];
  for (let set = 1; set < 1 << n; set++) {
    if (!isClique(set, agrees)) continue;
    cliques.push(set);
    const size = popcount(set);
    if (size > bestSize) {
      bestSize = size;
      best = set;
    }
  }
  if (bestSize < ELECTION_RULES.minCluster || bestSize / n < ELECTION_RULES.share) return null;
  for (const c of cliques) if ((c & best) === 0) rivalSize = Math.max(rivalSize, popcount(c));
  if (rivalSize >= bestSize) return null;
  let winner = -1;
  for (let i = 0; i < n; i++) {
    if ((best & (1 << i)) !== 0 && (winner < 0 || (answers[i] as ElectionAnswer).distance < (answers[winner] as ElectionAnswer).distance)) winner = i;
  }
  return winner;
}

function isClique(set: number, agrees: readonly number[]): boolean {
  for (let i = 0; i < agrees.length; i++) {
    if ((set & (1 << i)) !== 0 && (set & ~(1 << i) & ~(agrees[i] as number)) !== 0) return false;
  }
  return true;
}

export function popcount(x: number): number {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
}
