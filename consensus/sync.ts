/**
 * Sync by range-based set reconciliation (PROTOCOL §6; Meyer's range-based set reconciliation, as
 * negentropy does it), one way: a peer that may be behind (P) learns the mappings a neighbour (Q)
 * holds in a range of the ring that differ from its own. Pure; docs/network.md says why this and
 * not EcNode's walk of commit chains, and `ecd bench sync` measures both.
 *
 *   item         (token, block) of a stored mapping; the genesis set is never reconciled
 *   range        (lo, hi] of the ring, never wrapping (a wrapping arc is sent as two)
 *   summary      count and fingerprint of a range's items: XOR of BLAKE3(token ‖ block)[0..8]
 *   split        a range cut into SYNC.branch equal parts by value, so both sides compute the
 *                same bounds and only summaries travel
 *
 *   P → Q  ask    one range with P's summary (and, for a range where Q holds at most
 *                 SYNC.leafItems, the 8-byte hashes of P's own items there)
 *   Q → P  reply  `same` when the summaries agree; else Q's items when it holds at most
 *                 SYNC.leafItems there (without those P listed), else the summaries of its parts
 *   P             asks again for the parts whose summaries differ from its own
 *
 * Rounds: log_branch(n / leafItems) for n items in the range; bytes grow with the differences,
 * not with the history that produced them.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import { compare32, equal32 } from './keys.js';

export const SYNC = {
  branch: 16,
  leafItems: 16,
  fingerprintBytes: 8,
} as const;

export interface SyncItem {
  readonly token: Uint8Array;
  readonly block: Uint8Array;
}

export interface RangeBounds {
  /** Exclusive. */
  readonly lo: Uint8Array;
  /** Inclusive. */
  readonly hi: Uint8Array;
}

export interface Summary {
  readonly count: number;
  readonly fingerprint: Uint8Array;
}

export interface RangeAsk extends RangeBounds, Summary {
  /**
   * BLAKE3(token ‖ block)[0..8] of the asker's items in the range when both sides hold at most
   * SYNC.leafItems there; else empty.
   */
  readonly have: readonly Uint8Array[];
}

/** Every ask gets exactly one reply, so the asker knows when a range is settled. */
export type RangeReply =
  | { readonly kind: 'same'; readonly range: RangeBounds }
  | { readonly kind: 'items'; readonly range: RangeBounds; readonly items: readonly SyncItem[] }
  | { readonly kind: 'parts'; readonly range: RangeBounds; readonly parts: readonly Summary[] };

/** The items of a store in (lo, hi], in ring order. */
export type ItemSource = (range: RangeBounds) => SyncItem[];

/** BLAKE3(token ‖ block)[0..8]: an item's fingerprint contribution and its name in `have`. */
export function itemHash(blake3: Blake3Kernel, it: SyncItem): Uint8Array {
  const buf = new Uint8Array(64);
  buf.set(it.token, 0);
  buf.set(it.block, 32);
  return blake3.hash(buf).subarray(0, SYNC.fingerprintBytes);
}

export function summarize(blake3: Blake3Kernel, items: readonly SyncItem[]): Summary {
  const fp = new Uint8Array(SYNC.fingerprintBytes);
  for (const it of items) {
    const h = itemHash(blake3, it);
    for (let i = 0; i < fp.length; i++) fp[i] = (fp[i] as number) ^ (h[i] as number);
  }
  return { count: items.length, fingerprint: fp };
}

function hashKey(h: Uint8Array): string {
  let s = '';
  for (const b of h) s += String.fromCharCode(b);
  return s;
}

function toBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function fromBig(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** The SYNC.branch equal parts of a range, by value. */
export function splitRange(r: RangeBounds): RangeBounds[] {
  const lo = toBig(r.lo);
  const width = toBig(r.hi) - lo;
  const out: RangeBounds[] = [];
  let prev = r.lo;
  for (let k = 1; k <= SYNC.branch; k++) {
    const hi = k === SYNC.branch ? r.hi : fromBig(lo + (width * BigInt(k)) / BigInt(SYNC.branch));
    out.push({ lo: prev, hi });
    prev = hi;
  }
  return out;
}

/** Whether `token` lies in (lo, hi]. */
export function inRange(r: RangeBounds, token: Uint8Array): boolean {
  return compare32(token, r.lo) > 0 && compare32(token, r.hi) <= 0;
}

function sameSummary(a: Summary, b: Summary): boolean {
  if (a.count !== b.count) return false;
  for (let i = 0; i < SYNC.fingerprintBytes; i++) if (a.fingerprint[i] !== b.fingerprint[i]) return false;
  return true;
}

/** P: the first ask for some ranges (its hosted arc, as one or two non-wrapping ranges). */
export function ask(blake3: Blake3Kernel, source: ItemSource, ranges: readonly RangeBounds[]): RangeAsk[] {
  return ranges.map((r) => ({ lo: r.lo, hi: r.hi, ...summarize(blake3, source(r)), have: [] }));
}

/** Q: its reply to one ask. */
export function answer(blake3: Blake3Kernel, source: ItemSource, a: RangeAsk): RangeReply {
  const items = source(a);
  const range = { lo: a.lo, hi: a.hi };
  if (sameSummary(summarize(blake3, items), a)) return { kind: 'same', range };
  if (items.length <= SYNC.leafItems) {
    const have = new Set(a.have.map(hashKey));
    return { kind: 'items', range, items: items.filter((it) => !have.has(hashKey(itemHash(blake3, it)))) };
  }
  return { kind: 'parts', range, parts: splitRange(range).map((p) => summarize(blake3, items.filter((it) => inRange(p, it.token)))) };
}

/**
 * P: what a reply teaches it. `differ`: Q's items that P does not hold as they are (to fetch and
 * accept under the sync rules); `next`: the parts to ask about again.
 */
export function learn(blake3: Blake3Kernel, source: ItemSource, reply: RangeReply, mine: (token: Uint8Array) => Uint8Array | undefined): { differ: SyncItem[]; next: RangeAsk[] } {
  if (reply.kind === 'same') return { differ: [], next: [] };
  if (reply.kind === 'items') {
    const differ = reply.items.filter((it) => inRange(reply.range, it.token) && !isSameMapping(mine(it.token), it.block));
    return { differ, next: [] };
  }
  const next: RangeAsk[] = [];
  const parts = splitRange(reply.range);
  const items = source(reply.range);
  parts.forEach((p, k) => {
    const theirs = reply.parts[k];
    if (theirs === undefined || theirs.count === 0) return;
    const inPart = items.filter((it) => inRange(p, it.token));
    const own = summarize(blake3, inPart);
    if (sameSummary(own, theirs)) return;
    // Q will answer with its items: naming ours (when few) spares it sending what we hold.
    const few = theirs.count <= SYNC.leafItems && inPart.length <= SYNC.leafItems;
    next.push({ ...p, ...own, have: few ? inPart.map((it) => itemHash(blake3, it)) : [] });
  });
  return { differ: [], next };
}

function isSameMapping(held: Uint8Array | undefined, block: Uint8Array): boolean {
  return held !== undefined && equal32(held, block);
}
