/**
 * A client's trust in providers, from the receipts it verified (Omerta eq. 2 with the upstream
 * simulation's outcome mapping and an exponential decay; ../research/omerta-digest.md). Local and
 * subjective: each daemon scores from its own jobs only.
 *
 *   completed, receipt and output verified   + weight (1 + CPU-seconds + GiB-seconds of the job)
 *   killed by its own spec (timeout, oom)   0     the client asked for those limits
 *   cancelled by the client                 0
 *   failed on the provider's side          − 1
 *   unverifiable (bad receipt or output)   − 2
 *   a spot check disagreed                 − 4 to both providers (one of them lied; a
 *                                            third run would tell which)
 *
 * Scores decay with a half-life (7 days): old credit fades, so a provider cannot bank it and then
 * cheat. Pure: time is an argument.
 */
import type { JobOfferMessage } from '../../wire/msg-jobs.js';
import type { TrustRecord } from '../../store/jobs.js';

export const TRUST_PARAMS = {
  halfLifeMs: 7 * 24 * 3_600_000,
  failed: -1,
  unverifiable: -2,
  disputed: -4,
  /** Providers at or below this score are not picked. */
  floor: -3,
} as const;

export type Outcome =
  | { readonly kind: 'completed'; readonly cpuSeconds: number; readonly gibSeconds: number }
  | { readonly kind: 'neutral' }
  | { readonly kind: 'failed' }
  | { readonly kind: 'unverifiable' }
  | { readonly kind: 'disputed' };

export const NO_TRUST: TrustRecord = { score: 0, updatedAt: 0, completed: 0, failed: 0, disputed: 0 };

/** The score at `now`, decayed from its last update. */
export function currentScore(t: TrustRecord, now: number): number {
  if (t.updatedAt === 0 || now <= t.updatedAt) return t.score;
  return t.score * 0.5 ** ((now - t.updatedAt) / TRUST_PARAMS.halfLifeMs);
}

/** The record after one more outcome at `now`. */
export function applyOutcome(t: TrustRecord, o: Outcome, now: number): TrustRecord {
  const base = currentScore(t, now);
  switch (o.kind) {
    case 'completed':
      return { ...t, score: base + 1 + Math.max(0, o.cpuSeconds) + Math.max(0, o.gibSeconds), updatedAt: now, completed: t.completed + 1 };
    case 'neutral':
      return { ...t, score: base, updatedAt: now };
    case 'failed':
      return { ...t, score: base + TRUST_PARAMS.failed, updatedAt: now, failed: t.failed + 1 };
    case 'unverifiable':
      return { ...t, score: base + TRUST_PARAMS.unverifiable, updatedAt: now, failed: t.failed + 1 };
    case 'disputed':
      return { ...t, score: base + TRUST_PARAMS.disputed, updatedAt: now, disputed: t.disputed + 1 };
  }
}

/** What a job may cost at most under an offer's prices (its whole timeout at its full limits). */
export function maxPrice(offer: Pick<JobOfferMessage, 'pricePerCpuSecond' | 'pricePerGiBSecond'>, job: { cpuNano: number; memoryBytes: number; timeoutMs: number }): number {
  const s = job.timeoutMs / 1000;
  return offer.pricePerCpuSecond * (job.cpuNano / 1e9) * s + offer.pricePerGiBSecond * (job.memoryBytes / 2 ** 30) * s;
}

/**
 * The rank of a provider for a job: trust per unit of price, `(1 + score) / (1 + price)`, with
 * scores below zero shrinking toward 0 and providers at the floor excluded (null).
 */
export function rank(score: number, price: number): number | null {
  if (score <= TRUST_PARAMS.floor) return null;
  const s = score >= 0 ? 1 + score : 1 / (1 - score);
  return s / (1 + Math.max(0, price));
}
