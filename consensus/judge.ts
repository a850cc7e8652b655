/**
 * What this peer knows of one entry `(token, last)` of a block, from its committed state alone
 * (PROTOCOL §5.2); locks are applied by the caller. Pure.
 */
import { equal32, isZero32 } from './keys.js';

/** Read access to committed state: the store plus the commits of the tick being evaluated. */
export interface Ledger {
  /** The committed block that spent (token, last), if any. */
  spentBy(token: Uint8Array, last: Uint8Array): Uint8Array | undefined;
  isCommitted(id: Uint8Array): boolean;
  hasMapping(token: Uint8Array): boolean;
}

export const ABSTAIN = 0;
export const VALID = 1;
export const INVALID = 2;
export type Judgement = typeof ABSTAIN | typeof VALID | typeof INVALID;

/**
 * For a hosted token: `−` when a committed block other than `id` spent (token, last), or when a
 * creation meets an existing token; `+` when `last` is committed here and unspent (or a creation
 * of an unknown token); otherwise `0`: `last` is not committed here, so this peer is behind (or
 * `last` lost its own conflict) and abstains.
 */
export function judgeEntry(ledger: Ledger, id: Uint8Array, token: Uint8Array, last: Uint8Array): Judgement {
  const spent = ledger.spentBy(token, last);
  if (spent !== undefined) return equal32(spent, id) ? VALID : INVALID;
  if (isZero32(last)) return ledger.hasMapping(token) ? INVALID : VALID;
  return ledger.isCommitted(last) ? VALID : ABSTAIN;
}
