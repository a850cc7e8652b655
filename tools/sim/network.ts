/**
 * Network profiles: per-message delay in ticks (every hop takes at least one tick, as in EcNode's
 * rounds), loss and duplication. Reordering follows from the random delays and from delivering
 * each tick's messages in a shuffled order.
 */
import type { Rng } from './rng.js';

export type NetProfileName = 'perfect' | 'same-dc' | 'cross-dc' | 'cross-dc-stressed' | 'lossy';
export const NET_PROFILES: readonly NetProfileName[] = ['perfect', 'same-dc', 'cross-dc', 'cross-dc-stressed', 'lossy'];

export interface NetProfile {
  readonly base: number;
  /** Extra delay uniform in 0..jitter ticks. */
  readonly jitter: number;
  /** Chance of each further extra tick (geometric). */
  readonly extra: number;
  readonly loss: number;
  readonly duplicate: number;
}

export const NETS: Readonly<Record<NetProfileName, NetProfile>> = {
  perfect: { base: 1, jitter: 0, extra: 0, loss: 0, duplicate: 0 },
  'same-dc': { base: 1, jitter: 0, extra: 0.05, loss: 0.0005, duplicate: 0.0005 },
  'cross-dc': { base: 1, jitter: 1, extra: 0.2, loss: 0.002, duplicate: 0.001 },
  'cross-dc-stressed': { base: 2, jitter: 2, extra: 0.35, loss: 0.01, duplicate: 0.005 },
  /** 5 % loss, 2 % duplicates, delays of 1–3 ticks and more (heavy reordering). */
  lossy: { base: 1, jitter: 2, extra: 0.2, loss: 0.05, duplicate: 0.02 },
};

/** Delays (in ticks) of the copies of one message: [] lost, [d] delivered, [d1, d2] duplicated. */
export function delays(p: NetProfile, rng: Rng): number[] {
  if (rng.chance(p.loss)) return [];
  const one = (): number => {
    let d = p.base + (p.jitter > 0 ? rng.int(p.jitter + 1) : 0);
    while (rng.chance(p.extra) && d < 64) d++;
    return d;
  };
  return rng.chance(p.duplicate) ? [one(), one()] : [one()];
}
