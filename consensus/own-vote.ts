/**
 * Our own vote on a block and the locks behind it (PROTOCOL §5.2): per entry of a hosted token,
 * what committed state says (judge.ts), then the lock on (token, last), abstaining while we catch
 * up after a lock fell. The vote is kept packed on the entry and worked out again when stale.
 */
import { ABSTAIN, INVALID, judgeEntry } from './judge.js';
import { compare32, equal32 } from './keys.js';
import type { Body, Entry, Pending } from './mempool.js';
import type { CoreState } from './state.js';
import { committedVote, isCommittedMasks, REJECTED } from './votes.js';

/** `Pending.mine` until our vote is worked out. */
export const NO_VOTE = -1;

function pack(pos: number, neg: number): number {
  return pos | (neg << 8);
}

/** Our vote on e, packed; worked out again when a commit, the ring or a catch-up changed it. */
export function currentVote(c: CoreState, e: Entry): number {
  const p = e.phase;
  switch (p.state) {
    case 'committed':
      return pack(committedVote(hostMask(c, p.body)).pos, 0);
    case 'blocked':
    case 'invalid':
      return pack(REJECTED.pos, REJECTED.neg);
    case 'pending':
      if (p.mine === NO_VOTE || voteStale(c, p)) workOutVote(c, e, p);
      return p.mine;
    default:
      return 0;
  }
}

export function voteStale(c: CoreState, p: Pending): boolean {
  return p.mineStale || p.mineRing !== c.ringVersion || c.tickNo >= p.mineUntil;
}

/**
 * Per entry of a hosted token: `−` when committed state says `last` is not current or we are
 * locked on a contender; `0` when we are behind, or catching up after a lock on (token, last)
 * fell or after a restart (§5.2: we abstain and ask, until our whole window of the token voted
 * without a `−` or `catchUpTicks` passed; a commit of the old block reaches us meanwhile as a
 * conflict's winner); else `+`, which locks (token, last) on e.
 */
export function workOutVote(c: CoreState, e: Entry, p: Pending): void {
  let pos = 0;
  let neg = 0;
  let until = Infinity;
  for (let i = 0; i < p.body.tokens.length; i++) {
    const token = p.body.tokens[i] as Uint8Array;
    const last = p.body.lasts[i] as Uint8Array;
    if (!c.hosts(token) || !c.votes) continue;
    const j = judgeEntry(c.ledger, e.id, token, last);
    if (j === ABSTAIN) continue;
    if (j === INVALID) {
      neg |= 1 << i;
      continue;
    }
    const s = c.pool.spend(token, last);
    if (s === undefined) continue;
    if (s.lock !== undefined && s.lock !== e) {
      neg |= 1 << i;
      continue;
    }
    if (s.lock === undefined) {
      // Several contenders known before we voted on any: the highest id takes the lock (§5.2).
      if (higherPending(s.blocks, e)) {
        neg |= 1 << i;
        continue;
      }
      const f = c.pool.formerLock(token, last);
      if ((f !== undefined && !equal32(f.block, e.id)) || c.tickNo < c.restartedUntil) {
        if (s.catchUpUntil < 0) s.catchUpUntil = c.tickNo + c.p.catchUpTicks;
        if (c.tickNo < s.catchUpUntil && !windowAgrees(c, e, token, i)) {
          until = Math.min(until, s.catchUpUntil);
          continue;
        }
      }
      if (f !== undefined) c.pool.dropFormer(f);
      s.lock = e;
    }
    pos |= 1 << i;
  }
  p.mine = pack(pos, neg);
  p.mineStale = false;
  p.mineRing = c.ringVersion;
  p.mineUntil = until;
  if (until !== Infinity) c.catchingUp.add(e);
}

function higherPending(blocks: readonly Entry[], e: Entry): boolean {
  for (const b of blocks) if (b !== e && b.phase.state === 'pending' && compare32(b.id, e.id) > 0) return true;
  return false;
}

/**
 * Catching up ends early once every member of our window of the token voted on e and none of
 * them is `−` on entry i: no host there is locked on a contender or saw one commit.
 */
function windowAgrees(c: CoreState, e: Entry, token: Uint8Array, i: number): boolean {
  for (const h of c.connected.window(token, c.p.window)) {
    const v = e.votes.get(h);
    if (v === undefined || (!isCommittedMasks(v.pos, v.neg) && ((v.neg >> i) & 1) !== 0) || v.neg === REJECTED.neg) return false;
  }
  return true;
}

/** Bits of the entries whose token this peer hosts (the host claim of a committed vote). */
export function hostMask(c: CoreState, body: Body): number {
  let m = 0;
  for (let i = 0; i < body.tokens.length; i++) if (c.hosts(body.tokens[i] as Uint8Array)) m |= 1 << i;
  return m;
}
