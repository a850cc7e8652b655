/**
 * Consensus parameters (PROTOCOL §5, §12). The profile's values are authoritative; the rest are
 * this implementation's choices, documented in docs/consensus.md.
 */
import type { NetworkProfile } from '../wire/profiles.js';

export interface ConsensusParams {
  /** u64; part of every block id. */
  readonly networkId: bigint;
  /** Window half-width w: window(k) is w Connected peers below k and w + 1 at or above. */
  readonly window: number;
  /** The +T rule: every entry's positive minus negative votes above T. */
  readonly threshold: number;
  /** Positive votes every entry needs besides the +T rule (§5.3). */
  readonly quorum: number;
  /** A mempool entry is dropped this many ticks after it was created, in any state. */
  readonly mempoolLifetimeTicks: number;
  /** A block's time may be at most this far ahead of the local clock. */
  readonly maxFutureMs: number;
  /** Parent fetches for one block at most once per this many ticks (doubling while unanswered). */
  readonly parentFetchCooldownTicks: number;
  /** Body fetches for a placeholder at most once per this many ticks (doubling while unanswered). */
  readonly bodyFetchCooldownTicks: number;
  /** An undecided block re-polls the roles it lacks votes for every this many ticks. */
  readonly pollIntervalTicks: number;
  /**
   * A host that once locked (token, last) for a block since dropped abstains on a new contender
   * for this many ticks while it asks the token's window whether the old one committed (§5.2).
   */
  readonly catchUpTicks: number;
  readonly ticketRotationMs: number;
  /** Mempool cap; new blocks and placeholders beyond it are ignored. */
  readonly maxMempoolEntries: number;
  /** Peers remembered per block for a decision answer. */
  readonly maxAskersPerBlock: number;
  /** (token, last) pairs remembered after their lock fell (the late-contender guard). */
  readonly maxRememberedLocks: number;
  /** VOTE / QUERY_BLOCK items per REQUEST_BATCH (each item ≤ 49 bytes; 24 fit one frame). */
  readonly maxBatchItems: number;
  /** Block ids per commit record; a tick committing more writes several records in one batch. */
  readonly maxBlocksPerCommitRecord: number;
}

export const DEFAULT_CONSENSUS_PARAMS: Omit<ConsensusParams, 'networkId'> = Object.freeze({
  window: 4,
  threshold: 2,
  quorum: 6,
  mempoolLifetimeTicks: 200,
  maxFutureMs: 2 * 60 * 60 * 1000,
  parentFetchCooldownTicks: 5,
  bodyFetchCooldownTicks: 3,
  pollIntervalTicks: 4,
  catchUpTicks: 12,
  ticketRotationMs: 2_000,
  maxMempoolEntries: 65_536,
  maxAskersPerBlock: 64,
  maxRememberedLocks: 65_536,
  maxBatchItems: 24,
  maxBlocksPerCommitRecord: 32,
});

export function consensusParams(networkId: bigint, overrides: Partial<ConsensusParams> = {}): ConsensusParams {
  const p = Object.freeze({ ...DEFAULT_CONSENSUS_PARAMS, networkId, ...overrides });
  for (const [k, v] of Object.entries(p)) {
    if (k !== 'networkId' && (!Number.isSafeInteger(v) || (v as number) < 0)) throw new RangeError(`consensus parameter ${k} must be a non-negative integer, got ${String(v)}`);
  }
  if (p.quorum > 2 * p.window + 1) throw new RangeError(`quorum ${p.quorum} exceeds the window size ${2 * p.window + 1}`);
  if (p.maxBatchItems < 1) throw new RangeError('maxBatchItems must be at least 1');
  return p;
}

/** Params from a network profile (§12), with optional overrides for tests and simulations. */
export function paramsFromProfile(profile: NetworkProfile, overrides: Partial<ConsensusParams> = {}): ConsensusParams {
  return consensusParams(profile.networkId, {
    window: profile.window,
    threshold: profile.threshold,
    quorum: profile.quorum,
    mempoolLifetimeTicks: profile.mempoolLifetimeTicks,
    ticketRotationMs: profile.ticketRotationMs,
    ...overrides,
  });
}
