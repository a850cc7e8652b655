/**
 * Consensus parameters (PROTOCOL §5, §12; EcNode's constants, digest §2.1). The profile's values
 * are authoritative; the rest are this implementation's choices, documented in docs/consensus.md.
 */
import type { NetworkProfile } from '../wire/profiles.js';

export interface ConsensusParams {
  /** u64; part of every block id. */
  readonly networkId: bigint;
  /** Window half-width w: window(k) is w Connected peers below k and w + 1 at or above. */
  readonly window: number;
  /** Commit when every token tally > T and the witness count > T. */
  readonly threshold: number;
  /** INITIAL_VOTE targets per role (each token and the block id). */
  readonly firstWaveTargets: number;
  /** A mempool entry is dropped this many ticks after it was created, in any state. */
  readonly mempoolLifetimeTicks: number;
  /** A block's time may be at most this far ahead of the local clock. */
  readonly maxFutureMs: number;
  /** Parent fetches for one block at most once per this many ticks. */
  readonly parentFetchCooldownTicks: number;
  /** Body fetches for a placeholder at most once per this many ticks. */
  readonly bodyFetchCooldownTicks: number;
  /** Polling: emitting rounds per cycle (pairs 0 .. rounds − 1). */
  readonly pollActiveRounds: number;
  /** Polling: pairs emitted per emitting round. */
  readonly pollPairsPerTick: number;
  /** Polling: silent steps after each emitting step. */
  readonly pollPauseTicks: number;
  /** Uncontested blocks advance their poll counters only on ticks divisible by this. */
  readonly followupInterval: number;
  readonly ticketRotationMs: number;
  /** Mempool cap; new blocks and placeholders beyond it are ignored. */
  readonly maxMempoolEntries: number;
  /** Senders remembered per block for a terminal answer. */
  readonly maxInterestedPerBlock: number;
  /** VOTE / QUERY_BLOCK items per REQUEST_BATCH (each item ≤ 49 bytes; 24 fit one frame). */
  readonly maxBatchItems: number;
  /** Block ids per commit record; a tick committing more writes several records in one batch. */
  readonly maxBlocksPerCommitRecord: number;
  /**
   * A block may commit only this many ticks after it became valid here (0 = at once, as in
   * PROTOCOL). An experiment: it gives a conflicting block time to arrive before a commit.
   */
  readonly commitDelayTicks: number;
  /** Answer an INITIAL_VOTE from a Connected peer with our vote at once (docs/consensus.md). */
  readonly echoInitialVote: boolean;
  /** First-wave forwarding only by neighbourhood members and by peers closer to a key than their sender. */
  readonly inwardForwarding: boolean;
  /** No 0xFF answer to a peer that already holds a fully positive vote of ours (same tally). */
  readonly quietCommit: boolean;
  /**
   * Only the entry peer and peers hosting one of the block's keys (tokens, id) poll; a peer whose
   * block becomes valid tells its vote to the peers that polled it before (D5).
   */
  readonly memberPolls: boolean;
  /** Non-member forwarders pass the first wave to at most this many contacts closer to the key (0 = all of the closest; D6). */
  readonly greedyInward: number;
  /** A host that commits a block pushes its 0xFF to the other hosts of its tokens that do not count it yet (D8). */
  readonly announceHosts: boolean;
  /**
   * When this peer knows the neighbourhood of one of a block's keys only thinly (D9), the block
   * may commit only this many ticks after it became valid here (and never before
   * `commitDelayTicks`): the peer's window for that key is then mostly peers on the way there,
   * which learn of a competing block late. 0 = off.
   */
  readonly thinCommitDelayTicks: number;
  /**
   * A key's window is thin when its ring span is more than this many times the span of the
   * window around the peer's own address (which it knows best) …
   */
  readonly thinWindowRatio: number;
  /** … and at least this percentage of the peer's ring distance to the key (its members are strung out on the way there). */
  readonly thinDistancePercent: number;
}

export const DEFAULT_CONSENSUS_PARAMS: Omit<ConsensusParams, 'networkId'> = Object.freeze({
  window: 4,
  threshold: 2,
  firstWaveTargets: 4,
  mempoolLifetimeTicks: 200,
  maxFutureMs: 2 * 60 * 60 * 1000,
  parentFetchCooldownTicks: 5,
  bodyFetchCooldownTicks: 3,
  pollActiveRounds: 4,
  pollPairsPerTick: 1,
  pollPauseTicks: 2,
  followupInterval: 3,
  ticketRotationMs: 2_000,
  maxMempoolEntries: 65_536,
  maxInterestedPerBlock: 64,
  maxBatchItems: 24,
  maxBlocksPerCommitRecord: 32,
  commitDelayTicks: 5,
  echoInitialVote: true,
  inwardForwarding: true,
  quietCommit: true,
  memberPolls: true,
  greedyInward: 0,
  announceHosts: true,
  thinCommitDelayTicks: 10,
  thinWindowRatio: 3,
  thinDistancePercent: 50,
});

/**
 * PROTOCOL §5 exactly as written (v1), without this implementation's deviations (commit delay,
 * echo votes, inward forwarding, quiet commits, member polls, host announcements, the longer
 * delay for thin views;
 * docs/consensus.md). The unit tests of §5's per-peer rules run on these.
 */
export const PROTOCOL_AS_WRITTEN: Partial<ConsensusParams> = Object.freeze({
  commitDelayTicks: 0,
  echoInitialVote: false,
  inwardForwarding: false,
  quietCommit: false,
  memberPolls: false,
  greedyInward: 0,
  announceHosts: false,
  thinCommitDelayTicks: 0,
});

export function consensusParams(networkId: bigint, overrides: Partial<ConsensusParams> = {}): ConsensusParams {
  const p = Object.freeze({ ...DEFAULT_CONSENSUS_PARAMS, networkId, ...overrides });
  // D9 works on 256-bit ring distances in BigInt: its factors must be whole numbers.
  for (const k of ['thinCommitDelayTicks', 'thinWindowRatio', 'thinDistancePercent'] as const) {
    if (!Number.isSafeInteger(p[k]) || p[k] < 0) throw new RangeError(`consensus parameter ${k} must be a non-negative integer, got ${p[k]}`);
  }
  return p;
}

/** Params from a network profile (§12), with optional overrides for tests and simulations. */
export function paramsFromProfile(profile: NetworkProfile, overrides: Partial<ConsensusParams> = {}): ConsensusParams {
  return consensusParams(profile.networkId, {
    window: profile.window,
    threshold: profile.threshold,
    firstWaveTargets: profile.firstWaveTargets,
    mempoolLifetimeTicks: profile.mempoolLifetimeTicks,
    ticketRotationMs: profile.ticketRotationMs,
    ...overrides,
  });
}
