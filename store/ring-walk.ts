/**
 * Walking the stored tokens in ring order (PROTOCOL §7, proof of storage): both stores implement
 * `tokensFrom` with these semantics, and test/helpers/store-suite.ts checks them on both.
 *
 * `tokensFrom(token, direction, limit)` returns the stored mappings strictly after `token` in
 * `direction` — 'up' = increasing big-endian order, 'down' = decreasing — wrapping around the ring
 * (after ff…ff comes 00…00) at most once, so `token` itself is never returned and no token twice.
 */
import type { TokenMapping } from './types.js';

export type RingDirection = 'up' | 'down';

export interface TokenEntry {
  readonly token: Uint8Array;
  readonly mapping: TokenMapping;
}

/** Largest `limit` one `tokensFrom` call accepts; a longer walk continues from the last token. */
export const TOKENS_FROM_MAX = 65_536;

/** Throws RangeError for a bad `limit` or token length (caller bugs). */
export function checkWalkArgs(token: Uint8Array, direction: RingDirection, limit: number): void {
  if (!(token instanceof Uint8Array) || token.length !== 32) throw new RangeError('token must be 32 bytes');
  if (direction !== 'up' && direction !== 'down') throw new RangeError(`direction must be 'up' or 'down'`);
  if (!Number.isInteger(limit) || limit < 0 || limit > TOKENS_FROM_MAX) throw new RangeError(`limit must be 0…${TOKENS_FROM_MAX}`);
}
