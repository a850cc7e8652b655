/**
 * Commit evaluation (PROTOCOL §5.3), once per tick in (time, id) order over the blocks due a
 * look: a pending block commits on a quorum in our windows or on learned host reports, a
 * contender of a committed block is blocked, and the tick's commits become one storage batch.
 */
import type { CommitBatch, SpendWrite, StoredBlock, TokenWrite } from '../store/types.js';
import { makeCommitRecord } from '../wire/block.js';
import { toHex } from './hex.js';
import { compare32, equal32, IdMap } from './keys.js';
import type { Body, Entry, Pending } from './mempool.js';
import { currentVote, hostMask, NO_VOTE, voteStale, workOutVote } from './own-vote.js';
import { announce, answerAskers, forwardWinner, sendVote } from './send.js';
import type { CoreState } from './state.js';
import { hostReports, meetsQuorum } from './tally.js';
import { isCommittedMasks } from './votes.js';

export function evaluate(c: CoreState, now: number): CommitBatch | null {
  const committed: { e: Entry; learned: boolean }[] = [];
  // A commit may bring its children (or its contenders) back in the same tick: look again until
  // a round commits nothing.
  for (let round = due(c); round.length > 0; round = due(c)) {
    const before = committed.length;
    for (const e of round) look(c, e, committed);
    if (committed.length === before) break;
  }
  c.ledger.clear();
  if (committed.length === 0) return null;
  const batch = buildBatch(c, now, committed.map((x) => x.e));
  batch.blocks.forEach((b, k) => {
    const { e, learned } = committed[k] as { e: Entry; learned: boolean };
    c.events.push({ kind: 'committed', id: toHex(e.id), seq: b.seq, learned });
    announce(c, e, (e.phase as { body: Body }).body, learned);
  });
  return batch;
}

/**
 * The pending blocks due a look (CoreState.due, and those whose catch-up ended), parents before
 * children (a child's time is strictly greater, so both can commit in one tick).
 */
function due(c: CoreState): Entry[] {
  for (const e of c.catchingUp) {
    const p = e.phase;
    if (p.state !== 'pending' || e.left || p.mineUntil === Infinity) c.catchingUp.delete(e);
    else if (c.tickNo >= p.mineUntil) c.due.add(e);
  }
  const out: Entry[] = [];
  for (const e of c.due) if (e.phase.state === 'pending' && !e.left) out.push(e);
  c.due.clear();
  const time = (e: Entry): number => (e.phase as Pending).body.signed.block.time;
  if (out.length > 1) out.sort((a, b) => time(a) - time(b) || compare32(a.id, b.id));
  return out;
}

function look(c: CoreState, e: Entry, committed: { e: Entry; learned: boolean }[]): void {
  const p = e.phase;
  if (p.state !== 'pending') return;
  const winner = committedConflict(c, p.body, e.id);
  if (winner !== undefined) return blockEntry(c, e, winner);
  refreshVote(c, e, p);
  const learned = hostReports(e.votes) > c.p.threshold;
  if (!learned && !quorumHere(c, e, p)) return;
  e.phase = { state: 'committed', body: p.body };
  noteCommit(c, e.id, p.body);
  committed.push({ e, learned });
}

/**
 * The quorum rule, counted only by a host that is itself `+` on every entry it hosts. Elsewhere a
 * window of the token is a thin view of it, whose quorum the hosts themselves may not see; such
 * a peer learns from the hosts instead. A host locked on a contender learns too: with its own
 * lock on the block beside the q votes it counts, two contenders need 2(q + 1) honest locks
 * between them, which bounds the equivocators a window tolerates (docs/consensus.md).
 */
function quorumHere(c: CoreState, e: Entry, p: Pending): boolean {
  const hosted = hostMask(c, p.body);
  if (hosted === 0 || ((currentVote(c, e) & 0xff) & hosted) !== hosted) return false;
  return meetsQuorum(c.tallyFor(e, p), c.p.quorum, c.p.threshold, c.windowSize());
}

/** A commit of this tick: visible to later blocks through the ledger's overlay. */
function noteCommit(c: CoreState, id: Uint8Array, body: Body): void {
  touchTokens(c, body.tokens);
  c.ledger.addBlock(id);
  for (let i = 0; i < body.tokens.length; i++) c.ledger.addSpend(body.tokens[i] as Uint8Array, body.lasts[i] as Uint8Array, id, c.hosts(body.tokens[i] as Uint8Array));
}

/**
 * The mappings of these tokens changed: own votes on the blocks spending them are worked out
 * again. Every pending block is in the (token, last) index, and one that is not pending yet works
 * its vote out when it becomes so.
 */
export function touchTokens(c: CoreState, tokens: Iterable<Uint8Array>): void {
  for (const token of tokens) for (const s of c.pool.spendsOf(token)) c.pool.revote(s);
}

/** Works our vote out again if it may have changed, and tells the peers holding the old one. */
function refreshVote(c: CoreState, e: Entry, p: Pending): void {
  if (p.mine === NO_VOTE || !voteStale(c, p)) return;
  const before = p.mine;
  workOutVote(c, e, p);
  if (p.mine === before) return;
  for (const h of e.told.keys()) {
    const v = e.votes.get(h);
    if (v !== undefined && isCommittedMasks(v.pos, v.neg)) continue;
    e.told.set(h, p.mine);
    sendVote(c, h, e, p.mine, true, 'revote');
  }
}

function buildBatch(c: CoreState, now: number, committed: readonly Entry[]): CommitBatch {
  let head = c.store.head();
  const commits = [];
  const blocks: StoredBlock[] = [];
  const tokens = new IdMap<TokenWrite>();
  const spends: SpendWrite[] = [];
  const per = Math.max(1, c.p.maxBlocksPerCommitRecord);
  for (let start = 0; start < committed.length; start += per) {
    const chunk = committed.slice(start, start + per);
    const record = makeCommitRecord(c.crypto.blake3, { seq: head.seq + 1, prevId: head.id, time: now, blockIds: chunk.map((e) => e.id) });
    commits.push(record);
    head = { seq: record.seq, id: record.id };
    for (const e of chunk) {
      const body = (e.phase as { body: Body }).body;
      const block = body.signed.block;
      blocks.push({ id: e.id, block, signatures: body.signed.signatures, seq: record.seq });
      for (const x of block.entries) {
        spends.push({ token: x.token, last: x.last, block: e.id });
        // Learning can commit a block after its descendants: only a later block moves the mapping
        // (times grow strictly along a token's chain).
        if (c.hosts(x.token) && newerThanMapping(c, x.token, block.time, tokens)) tokens.set(x.token, { token: x.token, mapping: { block: e.id, parent: x.last, time: block.time, seq: record.seq, source: 'vote' } });
      }
    }
  }
  return { commits, blocks, tokens: [...tokens.values()], spends };
}

function newerThanMapping(c: CoreState, token: Uint8Array, time: number, batch: IdMap<TokenWrite>): boolean {
  const current = batch.get(token)?.mapping ?? c.store.token(token);
  return current === undefined || time > current.time;
}

/** A committed block (store or this tick's commits) that spent one of the entries, if any. */
export function committedConflict(c: CoreState, body: Body, id: Uint8Array): Uint8Array | undefined {
  for (let i = 0; i < body.tokens.length; i++) {
    const spent = c.ledger.spentBy(body.tokens[i] as Uint8Array, body.lasts[i] as Uint8Array);
    if (spent !== undefined && !equal32(spent, id)) return spent;
  }
  return undefined;
}

/** e lost to a committed contender: askers hear `rejected` and the winner. */
export function blockEntry(c: CoreState, e: Entry, winner: Uint8Array): void {
  if (e.phase.state === 'pending') c.pool.release(e, e.phase.body, false);
  e.phase = { state: 'blocked', winner };
  c.events.push({ kind: 'blocked', id: toHex(e.id), winner: toHex(winner) });
  const targets = new Set<number>(e.askers);
  for (const v of e.votes.keys()) targets.add(v);
  answerAskers(c, e);
  for (const h of targets) forwardWinner(c, winner, h);
}
