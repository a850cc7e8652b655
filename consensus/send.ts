/**
 * The sending policy (PROTOCOL §5.4): who hears our vote on a block, and when. The first wave and
 * its forwarding, echoes, the decision after a commit, answers about decided or stored blocks, a
 * conflict's winner, polls, and body and parent fetches.
 */
import { equal32, prefix48 } from './keys.js';
import type { Body, Entry, Pending } from './mempool.js';
import { bodyOf } from './mempool.js';
import { currentVote, hostMask } from './own-vote.js';
import { prefixDistance } from './ring.js';
import type { CoreState, Sender, SendCause } from './state.js';
import type { Tally } from './tally.js';
import { tally } from './tally.js';
import { TICKET_USE } from './tickets.js';
import { committedVote, HOST_BITS, isCommittedMasks } from './votes.js';
import { COVER_BYTES, coverAdd, covers } from '../wire/cover.js';

/** The cover filter of a body sent outside a wave: it names nobody. */
const NO_COVER = new Uint8Array(COVER_BYTES);
/** Fetch retries back off: base × 2^(k−1) after the k-th unanswered one, at most base × 8. */
const FETCH_BACKOFF_MAX_SHIFT = 3;
/**
 * A peer outside every token's neighbourhood passes a block on to this many of its contacts
 * closest to the token: the wave then narrows as it falls inward instead of fanning out at every
 * hop (a window at each hop floods everything between the entry and the neighbourhood).
 */
const FORWARD_FANOUT = 2;
/**
 * Poll rounds back off: the k-th comes pollIntervalTicks × 2^min(k, 4) after the one before, so
 * a block polls about five times in its lifetime and still reaches a peer that restarted late.
 */
const POLL_BACKOFF_MAX_SHIFT = 4;
/** Window members asked per unresolved role and poll round. */
const POLL_FANOUT = 2;

function fetchCooldown(base: number, fetches: number): number {
  return fetches <= 1 ? base : base << Math.min(fetches - 1, FETCH_BACKOFF_MAX_SHIFT);
}

/**
 * The blocks that became valid since the last tick vote and send their first wave now, all
 * together: contenders that arrived in the same tick are then known side by side and the highest
 * id takes the lock at every host that saw them both, instead of whichever each host happened
 * to read first (which splits the hosts and stalls the family). Messages of receive calls and
 * of the tick leave together, so this costs no tick.
 */
export function waveFresh(c: CoreState): void {
  const fresh = c.fresh;
  c.fresh = [];
  for (const e of fresh) {
    const p = e.phase;
    if (p.state !== 'pending' || p.waved) continue;
    p.waved = true;
    // Peers told our `0` while we fetched a parent hear our vote now.
    const mine = currentVote(c, e);
    for (const [h, v] of e.told) {
      if (v === mine) continue;
      e.told.set(h, mine);
      sendVote(c, h, e, mine, true, 'revote');
    }
    firstWave(c, e, p.body, p.source);
    // The origin and hosts that asked while we had only the id hear our vote now (as echo answers
    // them); forwarders need no answer.
    for (const a of e.askers) if (a === e.origin || claimsHost(e, a)) tell(c, e, a, 'tell');
  }
}

/**
 * The first wave (§5.4). The entry sends the block to window(token) of each token over its
 * contacts. A host (a receiver in the neighbourhood of a token) does the same: every host needs
 * a quorum of host votes. A receiver outside every token's neighbourhood passes the block
 * on toward a token, to its FORWARD_FANOUT contacts closest to it, only when it is closer to it
 * than its sender and its sender is not a host of it (no host claim in its vote): the wave falls
 * inward, narrowing, over several hops in a sparse view, and stops where the neighbourhood has it.
 */
export function firstWave(c: CoreState, e: Entry, body: Body, source: number | undefined): void {
  const w = c.p.window;
  const tokens = body.tokens;
  const targets = new Set<number>();
  const add = (key: Uint8Array): void => {
    for (const h of c.contacts.window(key, w)) targets.add(h);
  };
  if (source === undefined || tokens.some((t) => c.hosts(t))) {
    for (const t of tokens) add(t);
  } else {
    const theirs = e.votes.get(source);
    const claims = theirs === undefined ? 0 : theirs.pos | theirs.neg;
    tokens.forEach((t, i) => {
      if (((claims >> i) & 1) !== 0 || !closer(c, c.self, source, t)) return;
      for (const h of c.contacts.closest(t, FORWARD_FANOUT)) targets.add(h);
    });
  }
  const cause: SendCause = source === undefined ? 'first-wave' : 'forward';
  const cover = new Uint8Array(COVER_BYTES);
  for (const h of targets) coverAdd(cover, c.peers.address(h));
  for (const h of targets) tell(c, e, h, cause, cover);
}

function closer(c: CoreState, a: number, b: number, key: Uint8Array): boolean {
  const k = prefix48(key);
  return prefixDistance(c.peers.prefix(a), k) < prefixDistance(c.peers.prefix(b), k);
}

/**
 * Gives a peer our vote on e once: the body if it may lack it, else a VOTE. A peer that voted or
 * asked holds the body, and so, most likely, does one that a wave we received covered (a false
 * cover or a lost message costs it a body fetch). `cover`: the filter of this wave's receivers.
 */
function tell(c: CoreState, e: Entry, h: number, cause: SendCause, cover: Uint8Array = NO_COVER): void {
  if (h === c.self || e.told.has(h)) return;
  const v = currentVote(c, e);
  e.told.set(h, v);
  const p = e.phase;
  if (e.votes.has(h) || e.askers.has(h) || !('body' in p) || (e.covered !== undefined && covers(e.covered, c.peers.address(h)))) {
    sendVote(c, h, e, v, p.state === 'pending', cause);
    return;
  }
  c.emit(h, { type: 'initial-vote', block: p.body.signed.block, signatures: p.body.signed.signatures, pos: v & 0xff, neg: v >> 8, origin: c.peers.address(e.origin ?? c.self), covered: cover }, cause);
}

/**
 * Echo: the entry and the hosts hear our vote at once when they send us the block or ask (the
 * entry of a small network counts the quorum itself). Forwarders need no answer.
 */
export function echo(c: CoreState, e: Entry, s: Sender): void {
  // A peer still fetching a parent abstains (`0`, §5.2) but answers all the same.
  // A block that became valid since the last tick answers at the tick (waveFresh).
  if (s.client || (e.phase.state !== 'pending' && e.phase.state !== 'awaiting-parents') || (e.phase.state === 'pending' && !e.phase.waved)) return;
  if (s.id === e.origin || claimsHost(e, s.id)) tell(c, e, s.id, 'echo');
}

/** The peer's recorded vote claims to host one of the block's tokens (a `+` or `−` on an entry). */
function claimsHost(e: Entry, peer: number): boolean {
  const theirs = e.votes.get(peer);
  return theirs !== undefined && ((theirs.pos | theirs.neg) & HOST_BITS) !== 0;
}

export function sendVote(c: CoreState, to: number, e: Entry, packed: number, reply: boolean, cause: SendCause): void {
  c.emit(to, { type: 'vote', blockId: e.id, pos: packed & 0xff, neg: packed >> 8, reply }, cause);
}

/** The decision on a decided block; a conflict's loser also points at the winner. */
export function answerDecided(c: CoreState, e: Entry, to: number, cause: SendCause): void {
  sendVote(c, to, e, currentVote(c, e), false, cause);
  const p = e.phase;
  if (p.state === 'blocked') forwardWinner(c, p.winner, to);
}

/** Our committed vote to the block's origin, once: it learns from host reports (§5.3). */
export function reportToOrigin(c: CoreState, e: Entry, origin: number): void {
  const v = currentVote(c, e);
  if (e.told.get(origin) === v) return;
  e.told.set(origin, v);
  sendVote(c, origin, e, v, false, 'origin');
}

export function answerAskers(c: CoreState, e: Entry): void {
  for (const a of e.askers) answerDecided(c, e, a, 'decision');
  e.askers.clear();
}

export function answerStored(c: CoreState, to: number, id: Uint8Array, cause: SendCause): void {
  const stored = c.store.block(id);
  const mask = stored === undefined ? 0 : hostMask(c, bodyOf(stored));
  c.emit(to, { type: 'vote', blockId: id, pos: committedVote(mask).pos, neg: 0, reply: false }, cause);
}

/** Tells a peer that `winner` committed here, with its body if it may lack it. */
export function forwardWinner(c: CoreState, winner: Uint8Array, to: number): void {
  if (to === c.self) return;
  const w = c.pool.get(winner);
  if (w !== undefined && w.phase.state === 'committed') {
    const v = currentVote(c, w);
    if (w.told.get(to) === v) return;
    if (!w.told.has(to) && !w.votes.has(to) && !w.askers.has(to)) return tell(c, w, to, 'winner');
    w.told.set(to, v);
    return sendVote(c, to, w, v, false, 'winner');
  }
  const stored = c.store.block(winner);
  if (stored === undefined) return;
  const v = committedVote(hostMask(c, bodyOf(stored)));
  c.emit(to, { type: 'initial-vote', block: stored.block, signatures: stored.signatures, pos: v.pos, neg: v.neg, origin: c.address, covered: NO_COVER }, 'winner');
}

/**
 * After a commit, the decision goes to the peers that need it: the origin, which learns from the
 * hosts' reports (§5.3; only a host's report counts, so only hosts send one), and the hosts among
 * the askers that may not reach the quorum themselves. A host that voted `+` on every entry sees
 * our `+` in place of its own, which it never counts: with our tally one above the rule on every
 * entry it sees enough, unless the block met a conflict (votes elsewhere differ) or we learned it.
 */
export function announce(c: CoreState, e: Entry, body: Body, learned: boolean): void {
  const full = (1 << body.tokens.length) - 1;
  const p = learned ? undefined : tallyAfter(c, e, body);
  const q = Math.min(c.p.quorum, c.windowSize());
  const roomy = p !== undefined && p.pos.every((x, i) => x - 1 >= q && x - 1 - (p.neg[i] as number) > c.p.threshold) && !contested(c, e, body);
  const v = currentVote(c, e);
  const to = new Set<number>();
  for (const a of e.askers) {
    const theirs = e.votes.get(a);
    if (theirs === undefined || isCommittedMasks(theirs.pos, theirs.neg)) continue;
    const claims = (theirs.pos | theirs.neg) & full;
    if (claims !== 0 && !(roomy && (theirs.pos & full) === full)) to.add(a);
  }
  const o = e.origin;
  if (o !== undefined && o !== c.self && (v & HOST_BITS) !== 0) {
    const theirs = e.votes.get(o);
    if (theirs === undefined || !isCommittedMasks(theirs.pos, theirs.neg)) to.add(o);
  }
  e.askers.clear();
  if (o !== undefined && to.has(o)) e.told.set(o, v);
  for (const h of to) sendVote(c, h, e, v, false, h === o ? 'origin' : 'decision');
}

/**
 * Whether a host that asks about a block committed here needs no answer: it voted `+` on every
 * entry (`pos`) and holds our `+`, and all members of our window of each token but one voted `+`,
 * with no `−` or contender here. Every voter tells its whole window, so the asker holds those
 * votes too, with ours in place of its own, which it never counts; a vote still on its way to it
 * is asked for again by its poll. Abstainers and hosts that saw a `−` get the answer: they may
 * need it to learn the commit (a neighbourhood still forming, a member behind).
 */
function needsNoAnswer(c: CoreState, e: Entry, body: Body, asker: number, pos: number): boolean {
  const full = (1 << body.tokens.length) - 1;
  const ours = e.told.get(asker);
  if (asker === e.origin || (pos & full) !== full || ours === undefined || (ours & full) !== full || isCommittedMasks(ours & 0xff, ours >> 8)) return false;
  const t = tallyAfter(c, e, body);
  const most = c.windowSize() - 1;
  return t.pos.every((x, i) => x >= most && t.neg[i] === 0) && !contested(c, e, body);
}

/** The answer to a peer that asks, with its vote `pos`, about a block decided here. */
export function answerLate(c: CoreState, e: Entry, to: number, pos: number): void {
  const p = e.phase;
  if (p.state === 'committed' && needsNoAnswer(c, e, p.body, to, pos)) return;
  answerDecided(c, e, to, 'late-answer');
}

/** The tally of a block that just committed here (its phase no longer holds one). */
function tallyAfter(c: CoreState, e: Entry, body: Body): Tally {
  return tally(c.connected, c.p.window, body.tokens, e.votes);
}

/** Whether e met a contender here or a `−` vote. */
function contested(c: CoreState, e: Entry, body: Body): boolean {
  for (let i = 0; i < body.tokens.length; i++) if ((c.pool.spend(body.tokens[i] as Uint8Array, body.lasts[i] as Uint8Array)?.blocks.length ?? 0) > 1) return true;
  for (const v of e.votes.values()) if (v.neg !== 0 && !isCommittedMasks(v.pos, v.neg)) return true;
  return false;
}

/** Each tick: placeholders fetch their body, blocks awaiting a parent fetch it, pending blocks poll. */
export function poll(c: CoreState): void {
  for (const e of c.liveEntries()) {
    const p = e.phase;
    if (p.state === 'placeholder') {
      // A placeholder kept only to remember bad copies fetches nothing.
      if (e.votes.size > 0 || e.askers.size > 0) fetchBody(c, e);
    } else if (p.state === 'awaiting-parents') {
      fetchParents(c, e);
    } else if (p.state === 'pending') {
      pollPending(c, e, p);
    }
  }
}

/**
 * Every poll round (backing off from `pollIntervalTicks`), for each token still short of its rule
 * (quorum and +T), ask up to POLL_FANOUT members of its window that have not voted. The entry and
 * the hosts poll.
 */
function pollPending(c: CoreState, e: Entry, p: Pending): void {
  if (--p.pollIn > 0 || c.connected.size === 0) return;
  p.pollIn = c.p.pollIntervalTicks << Math.min(p.polls, POLL_BACKOFF_MAX_SHIFT);
  p.polls++;
  const t = c.tallyFor(e, p);
  const tokens = p.body.tokens;
  if (p.source !== undefined && !tokens.some((x) => c.hosts(x))) return;
  let v: number | undefined;
  for (let r = 0; r < tokens.length; r++) {
    const key = tokens[r] as Uint8Array;
    const open = (t.pos[r] as number) < c.p.quorum || (t.pos[r] as number) - (t.neg[r] as number) <= c.p.threshold;
    if (!open) continue;
    let asked = 0;
    for (const h of c.connected.window(key, c.p.window)) {
      if (asked >= POLL_FANOUT) break;
      if (e.votes.has(h)) continue;
      asked++;
      v ??= currentVote(c, e);
      e.told.set(h, v);
      sendVote(c, h, e, v, true, 'poll');
    }
  }
}

export function fetchBody(c: CoreState, e: Entry): void {
  if (c.tickNo - e.lastFetch < fetchCooldown(c.p.bodyFetchCooldownTicks, e.fetches)) return;
  const candidates = [...e.votes.keys(), ...e.askers];
  let target = candidates[e.fetches % Math.max(1, candidates.length)];
  target ??= c.connected.closest(e.id, 1)[0];
  if (target === undefined) return;
  e.lastFetch = c.tickNo;
  e.fetches++;
  c.emit(target, { type: 'query-block', blockId: e.id, ticket: c.tickets.issue(c.now, TICKET_USE.body, e.id) }, 'fetch');
}

/**
 * Parents from whoever gave us the block, then its positive voters, then the hosts of the token
 * (they committed the parent), then the peers closest to the parent id. The first attempt asks
 * two of them: a transfer's entry peer usually lacks the parent, and every tick counts there.
 */
export function fetchParents(c: CoreState, e: Entry): void {
  const p = e.phase;
  if (p.state !== 'awaiting-parents' || c.tickNo - e.lastFetch < fetchCooldown(c.p.parentFetchCooldownTicks, e.fetches)) return;
  e.lastFetch = c.tickNo;
  const attempt = e.fetches++;
  for (const parent of p.missing) {
    const candidates: number[] = [];
    if (p.source !== undefined) candidates.push(p.source);
    const i = p.body.lasts.findIndex((l) => equal32(l, parent));
    for (const [h, v] of e.votes) if (i >= 0 && (v.pos >> i) & 1) candidates.push(h);
    if (i >= 0) candidates.push(...c.connected.closest(p.body.tokens[i] as Uint8Array, 2));
    candidates.push(...c.connected.closest(parent, 2));
    const unique = [...new Set(candidates)];
    if (unique.length === 0) continue;
    const ticket = c.tickets.issue(c.now, TICKET_USE.parent, parent);
    const picks = attempt === 0 ? unique.slice(0, 2) : [unique[attempt % unique.length] as number];
    for (const target of picks) c.emit(target, { type: 'query-block', blockId: parent, ticket }, 'fetch');
  }
}
