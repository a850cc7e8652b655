/**
 * The masks of a vote (PROTOCOL §5.2; their bytes: wire/msg-consensus.ts). Per entry i: bit i
 * of `pos` is `+` (valid: the voter hosts the token, `last` is current there and it is locked on
 * this block), bit i of `neg` is `−` (it hosts the token and `last` is not current, or it is
 * locked on a contender), neither is `0` (it does not host the token, or it is behind). Entries
 * use bits 0..5; bits 6 and 7 mark the block-level states: committed = pos 0xC0 | the entries
 * whose token the voter hosts (its host claim, used for learning), rejected = neg 0xC0.
 */

export const STATE_BITS = 0xc0;
export const HOST_BITS = 0x3f;


export const REJECTED = { pos: 0, neg: STATE_BITS } as const;

export function committedVote(hostMask: number): { pos: number; neg: number } {
  return { pos: STATE_BITS | (hostMask & HOST_BITS), neg: 0 };
}

export function isCommittedMasks(pos: number, neg: number): boolean {
  return (pos & STATE_BITS) === STATE_BITS && neg === 0;
}

export function isRejectedMasks(pos: number, neg: number): boolean {
  return pos === 0 && neg === STATE_BITS;
}

/**
 * A well-formed pair: disjoint per-entry bits in 0..5, or a block-level state (committed with
 * any host claim, or rejected). The entry count is checked where the block is known.
 */
export function validMasks(pos: unknown, neg: unknown): boolean {
  if (!Number.isInteger(pos) || !Number.isInteger(neg)) return false;
  const p = pos as number;
  const n = neg as number;
  if (p < 0 || p > 0xff || n < 0 || n > 0xff) return false;
  if (isCommittedMasks(p, n) || isRejectedMasks(p, n)) return true;
  return ((p | n) & STATE_BITS) === 0 && (p & n) === 0;
}
