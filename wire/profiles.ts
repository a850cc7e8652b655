/**
 * Network profiles (PROTOCOL §12): the params every peer of one network must agree on. A peer
 * of one profile rejects identities of another by network id (§2), so profiles never mix.
 */

export type ProfileName = 'mainnet' | 'testnet' | 'devnet';

export interface IdentityArgon2Params {
  /** Memory in KiB. */
  readonly mKiB: number;
  readonly t: number;
  readonly p: number;
}

export interface NetworkProfile {
  readonly name: string;
  /** u64 on the wire; domain-separates salts, signatures and records between networks. */
  readonly networkId: bigint;
  /** Identity proof of work: Argon2id cost (output is always 32 bytes). */
  readonly argon2: IdentityArgon2Params;
  /** Base identity difficulty (trailing zero bits of the work). */
  readonly d0: number;
  /** Network size at which the difficulty starts to rise by one bit per factor of ten. */
  readonly n0: number;
  /** An identity's time may be at most this old (seconds). */
  readonly identityMaxAgeS: number;
  /** An identity's time may be at most this far in the future (seconds). */
  readonly identityMaxFutureS: number;
  /** After the difficulty estimate rises, identities mined for d − 1 are accepted this long (seconds). */
  readonly difficultyGraceS: number;
  /** Consensus clock step. */
  readonly tickMs: number;
  /** Voting window w, commit threshold T (+T votes) and quorum q of positive votes (PROTOCOL §5.3). */
  readonly window: number;
  readonly threshold: number;
  readonly quorum: number;
  readonly mempoolLifetimeTicks: number;
  readonly maxDatagram: number;
  /** Frames whose send time differs from ours by more than this are dropped. */
  readonly clockWindowMs: number;
  readonly ticketRotationMs: number;
  /**
   * The genesis set (consensus/genesis.ts): 2^bits tokens, of which each peer stores those within
   * `reach` of its address (a share of the ring) for its storage proofs. Small networks need the
   * whole ring: a neighbour may sit a quarter of the ring away.
   */
  readonly genesis: { readonly bits: number; readonly reach: number };
}

const DAY_S = 86_400;

/** Params shared by all three profiles (§12); only Argon2 cost, d0 and network id differ. */
const COMMON = {
  n0: 1000,
  identityMaxAgeS: 365 * DAY_S,
  identityMaxFutureS: DAY_S,
  difficultyGraceS: 30 * DAY_S,
  tickMs: 50,
  window: 4,
  threshold: 2,
  quorum: 6,
  mempoolLifetimeTicks: 200,
  maxDatagram: 1452,
  clockWindowMs: 30_000,
  ticketRotationMs: 2_000,
  genesis: Object.freeze({ bits: 15, reach: 0.5 }),
} as const;

export const PROFILES: Readonly<Record<ProfileName, NetworkProfile>> = Object.freeze({
  mainnet: Object.freeze({ ...COMMON, name: 'mainnet', networkId: 1n, argon2: Object.freeze({ mKiB: 65_536, t: 10, p: 1 }), d0: 17, genesis: Object.freeze({ bits: 20, reach: 0.05 }) }),
  testnet: Object.freeze({ ...COMMON, name: 'testnet', networkId: 2n, argon2: Object.freeze({ mKiB: 1_024, t: 1, p: 1 }), d0: 8 }),
  devnet: Object.freeze({ ...COMMON, name: 'devnet', networkId: 3n, argon2: Object.freeze({ mKiB: 64, t: 1, p: 1 }), d0: 2 }),
});

export const PROFILE_NAMES: readonly ProfileName[] = ['mainnet', 'testnet', 'devnet'];

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

export function profileByName(name: string): NetworkProfile | undefined {
  return isProfileName(name) ? PROFILES[name] : undefined;
}

export function profileByNetworkId(id: bigint): NetworkProfile | undefined {
  return PROFILE_NAMES.map((n) => PROFILES[n]).find((p) => p.networkId === id);
}

/** A profile derived from another (tests and simulations pick their own network ids and costs). */
export function deriveProfile(base: NetworkProfile, changes: Partial<NetworkProfile> & { readonly name: string }): NetworkProfile {
  return Object.freeze({ ...base, ...changes });
}
