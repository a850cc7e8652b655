/**
 * Rate limits of the receive path (PROTOCOL §3 steps 2 and 3). Pure: every call takes the
 * current time in ms from the caller's (injected) clock, and nothing here reads a clock or sets
 * a timer. Refill is computed lazily on use, so idle entries cost nothing and need no sweeper;
 * the maps are bounded and evict the least recently used entry.
 *
 *  - `AddressRateLimiter`: one token bucket per source address (IP and port), 20 000 frames/s
 *    with a burst of 40 000 by default: generous enough never to throttle an honest peer, tight
 *    enough to cap what one address can make us spend.
 *  - `TokenBucket`: a single bucket, used for the global key-agreement budget (500/s).
 *
 * Eviction hands a forgotten address a fresh (full) bucket. That is the price of a bounded map;
 * it matters only to an attacker who controls more addresses than the map holds, and such an
 * attacker already gets a full bucket per address.
 */

import { GenerationalCache } from './replay.js';

export const DEFAULT_ADDRESS_RATE_PER_S = 20_000;
export const DEFAULT_ADDRESS_BURST = 40_000;
export const DEFAULT_ADDRESS_MAX_ENTRIES = 65_536;
export const DEFAULT_KEY_AGREEMENTS_PER_S = 500;
/** One second's worth: a restart with many peers warms its cache in about a second. */
export const DEFAULT_KEY_AGREEMENT_BURST = 500;

export interface TokenBucketParams {
  /** Tokens added per second. */
  readonly ratePerS: number;
  /** Bucket size (also the starting fill). */
  readonly burst: number;
}

function checkParams(p: TokenBucketParams): void {
  if (!(p.ratePerS >= 0) || !(p.burst >= 1) || !Number.isFinite(p.ratePerS) || !Number.isFinite(p.burst)) {
    throw new RangeError('token bucket needs ratePerS ≥ 0 and burst ≥ 1 (finite)');
  }
}

/** A single token bucket. */
export class TokenBucket {
  private tokens: number;
  private last: number | null = null;
  private readonly perMs: number;

  constructor(readonly params: TokenBucketParams) {
    checkParams(params);
    this.tokens = params.burst;
    this.perMs = params.ratePerS / 1000;
  }

  /** Takes one token at time `nowMs`; false when the bucket is empty. */
  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Tokens available at `nowMs` (refills first). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  private refill(nowMs: number): void {
    if (this.last === null) {
      this.last = nowMs;
      return;
    }
    const dt = nowMs - this.last;
    // A clock that steps back refills nothing and does not move `last` back.
    if (dt <= 0) return;
    this.last = nowMs;
    this.tokens = Math.min(this.params.burst, this.tokens + dt * this.perMs);
  }
}

interface Bucket {
  tokens: number;
  last: number;
}

export interface AddressRateLimiterOptions extends Partial<TokenBucketParams> {
  /** Addresses tracked at once (default 65 536). */
  readonly maxEntries?: number;
}

/** Per-source-address token buckets in a bounded map. */
export class AddressRateLimiter {
  private readonly buckets: GenerationalCache<Bucket>;
  private readonly params: TokenBucketParams;
  private readonly perMs: number;

  constructor(opts: AddressRateLimiterOptions = {}) {
    this.params = {
      ratePerS: opts.ratePerS ?? DEFAULT_ADDRESS_RATE_PER_S,
      burst: opts.burst ?? DEFAULT_ADDRESS_BURST,
    };
    checkParams(this.params);
    this.perMs = this.params.ratePerS / 1000;
    this.buckets = new GenerationalCache<Bucket>(Math.max(1, Math.floor(opts.maxEntries ?? DEFAULT_ADDRESS_MAX_ENTRIES)));
  }

  /** Takes one token for `address` at `nowMs`; false when its bucket is empty. */
  take(address: string, nowMs: number): boolean {
    let b = this.buckets.get(address);
    if (b === undefined) {
      b = { tokens: this.params.burst, last: nowMs };
      this.buckets.set(address, b);
    } else {
      const dt = nowMs - b.last;
      if (dt > 0) {
        b.last = nowMs;
        b.tokens = Math.min(this.params.burst, b.tokens + dt * this.perMs);
      }
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  get evicted(): number {
    return this.buckets.evicted;
  }
}
