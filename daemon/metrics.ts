/**
 * The daemon's metrics in one place (STYLE §18), rendered as Prometheus text format 0.0.4.
 * Labels come from closed sets only (message kind, drop reason, event kind), never peer ids.
 *
 * Some values are kept here (counters the node increments, the commit-latency histogram); others
 * are read at scrape time from their owners (FrameEndpoint counters, mempool size, store stats),
 * passed in as a `MetricsSnapshot` so this module imports nothing from the rest of the daemon.
 */
import type { SyncView } from './sync.js';
import type { FrameCounters } from './frame-endpoint.js';
import { RECEIVE_DROP_REASONS, SEND_DROP_REASONS } from './frame-endpoint.js';

/** Event-loop delay buckets in seconds. */
export const LOOP_DELAY_BUCKETS_S = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5] as const;

/** Commit latency buckets in seconds (a tick is 0.05 s). */
export const LATENCY_BUCKETS_S = [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10] as const;

export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= (this.buckets[i] as number)) this.counts[i] = (this.counts[i] as number) + 1;
  }
  /** Approximate quantile from the buckets (upper bound of the bucket), null when empty. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const want = q * this.count;
    for (let i = 0; i < this.buckets.length; i++) if ((this.counts[i] as number) >= want) return this.buckets[i] as number;
    return Infinity;
  }
}

/** Message kinds counted by the node (a closed set: the wire message types). */
export type MessageKind = string;

export class NodeMetrics {
  /** Consensus/peer messages received and sent, by message type (closed set). */
  readonly messagesIn = new Map<MessageKind, number>();
  readonly messagesOut = new Map<MessageKind, number>();
  /** Vote items (VOTE messages, alone or batched) received and sent. */
  votesIn = 0;
  votesOut = 0;
  /** Consensus message items sent (a BATCH counts its items), by the rule that sent them (consensus/peer.ts SendCause). */
  readonly itemsOut = new Map<string, number>();
  /** Consensus events by kind (accepted, committed, blocked, invalid, expired, rejected). */
  readonly events = new Map<string, number>();
  /** Messages from senders without a verified identity (dropped before the core). */
  unverifiedDropped = 0;
  /** Outgoing messages to addresses we have no endpoint for. */
  unroutable = 0;
  blocksSubmitted = 0;
  blocksRefused = 0;
  /** Ticks and how long they took (store write + evaluation). */
  ticks = 0;
  tickOverruns = 0;
  readonly tickSeconds = new Histogram([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]);
  readonly commitLatency = new Histogram(LATENCY_BUCKETS_S);
  /**
   * Event-loop delay, sampled free of charge: how late each tick's timer fired (20 samples a second
   * while busy, one while quiet). A sampler of its own would wake an idle daemon for nothing.
   */
  readonly loopDelay = new Histogram(LOOP_DELAY_BUCKETS_S);
  identityVerified = 0;
  identityFailed = 0;
  httpRequests = 0;
  readonly httpByStatus = new Map<number, number>();

  static bump<K>(m: Map<K, number>, k: K, by = 1): void {
    m.set(k, (m.get(k) ?? 0) + by);
  }
}

export interface StoreStatsLike {
  readonly reads: number;
  readonly readMisses: number;
  readonly writeTxns: number;
  readonly writeTxnsAborted: number;
  readonly writeOps: number;
  readonly writeBytes: number;
  readonly writeTxnSeconds: number;
}

export interface MetricsSnapshot {
  readonly frames: FrameCounters;
  readonly mempool: number;
  readonly headSeq: number;
  readonly peersConnected: number;
  readonly peersKnown: number;
  /** The peer lifecycle (daemon/elections.ts). */
  readonly elections?:
    | {
        readonly formed: boolean;
        readonly identified: number;
        readonly pending: number;
        readonly connected: number;
        readonly elections: number;
        readonly coreConnected: number;
        readonly counters: Readonly<Record<'finds' | 'answers' | 'referrals' | 'invitations' | 'dropped', number>>;
      }
    | undefined;
  /** Sync (daemon/sync.ts). */
  readonly sync?: SyncView | undefined;
  readonly uptimeS: number;
  readonly store?: StoreStatsLike | undefined;
  /** QUERY_TOKEN traffic (daemon/token-query.ts). */
  readonly queries?:
    | { readonly answered: number; readonly referred: number; readonly forwarded: number; readonly relayed: number; readonly refused: Readonly<Record<string, number>>; readonly drops: Readonly<Record<string, number>> }
    | undefined;
  /** Minefield evidence (daemon/evidence.ts, store/evidence.ts). */
  readonly evidence?:
    | {
        readonly statements: number;
        readonly responders: number;
        readonly bans: number;
        readonly added: number;
        readonly evicted: number;
        readonly proofsFound: Readonly<Record<string, number>>;
        readonly proofsReceived: number;
        readonly proofsRefused: Readonly<Record<string, number>>;
        readonly proofsGossiped: number;
        readonly lies: number;
      }
    | undefined;
  /** Compute jobs (daemon/jobs): counters by side and the jobs running on this provider. */
  readonly jobs?:
    | { readonly provider: Readonly<Record<string, number>> | null; readonly client: Readonly<Record<string, number>>; readonly running: number }
    | undefined;
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

class Text {
  private readonly lines: string[] = [];
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }
  sample(name: string, value: number, labels: Record<string, string> = {}): this {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`);
    this.lines.push(`${name}${l.length === 0 ? '' : `{${l.join(',')}}`} ${num(value)}`);
    return this;
  }
  histogram(name: string, help: string, h: Histogram): this {
    this.family(name, 'histogram', help);
    h.buckets.forEach((b, i) => this.sample(`${name}_bucket`, h.counts[i] as number, { le: num(b) }));
    this.sample(`${name}_bucket`, h.count, { le: '+Inf' });
    this.sample(`${name}_sum`, h.sum);
    this.sample(`${name}_count`, h.count);
    return this;
  }
  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export function renderMetrics(m: NodeMetrics, s: MetricsSnapshot): string {
  const t = new Text();
  const f = s.frames;
  t.family('ecd_frames_received_total', 'counter', 'Datagrams handed to the frame endpoint').sample('ecd_frames_received_total', f.received);
  t.family('ecd_frames_handled_total', 'counter', 'Frames whose messages reached the daemon').sample('ecd_frames_handled_total', f.handled);
  t.family('ecd_frames_dropped_total', 'counter', 'Received frames dropped, by reason');
  for (const r of RECEIVE_DROP_REASONS) t.sample('ecd_frames_dropped_total', f.drop[r], { reason: r });
  t.family('ecd_frames_sent_total', 'counter', 'Frames sent').sample('ecd_frames_sent_total', f.sent.frames);
  t.family('ecd_frame_bytes_sent_total', 'counter', 'Bytes sent in frames').sample('ecd_frame_bytes_sent_total', f.sent.bytes);
  t.family('ecd_frames_send_dropped_total', 'counter', 'Frames or messages not sent, by reason');
  for (const r of SEND_DROP_REASONS) t.sample('ecd_frames_send_dropped_total', f.sendDrop[r], { reason: r });
  t.family('ecd_key_agreements_total', 'counter', 'Pair keys computed on the receive path').sample('ecd_key_agreements_total', f.keyAgreements);

  t.family('ecd_messages_received_total', 'counter', 'Messages received, by type');
  for (const [k, v] of [...m.messagesIn].sort()) t.sample('ecd_messages_received_total', v, { type: k });
  t.family('ecd_messages_sent_total', 'counter', 'Messages sent, by type');
  for (const [k, v] of [...m.messagesOut].sort()) t.sample('ecd_messages_sent_total', v, { type: k });
  t.family('ecd_votes_total', 'counter', 'Vote items received and sent');
  t.sample('ecd_votes_total', m.votesIn, { direction: 'in' }).sample('ecd_votes_total', m.votesOut, { direction: 'out' });
  t.family('ecd_message_items_sent_total', 'counter', 'Consensus message items sent (a batch counts its items), by the rule that sent them');
  for (const [k, v] of [...m.itemsOut].sort()) t.sample('ecd_message_items_sent_total', v, { cause: k });
  t.family('ecd_unverified_messages_dropped_total', 'counter', 'Consensus messages from senders without a verified identity').sample('ecd_unverified_messages_dropped_total', m.unverifiedDropped);
  t.family('ecd_unroutable_messages_total', 'counter', 'Outgoing messages to peers without a known endpoint').sample('ecd_unroutable_messages_total', m.unroutable);

  t.family('ecd_consensus_events_total', 'counter', 'Consensus events, by kind');
  for (const [k, v] of [...m.events].sort()) t.sample('ecd_consensus_events_total', v, { kind: k });
  t.family('ecd_commits_total', 'counter', 'Blocks committed by this daemon').sample('ecd_commits_total', m.events.get('committed') ?? 0);
  t.family('ecd_blocks_submitted_total', 'counter', 'Blocks accepted through the control API').sample('ecd_blocks_submitted_total', m.blocksSubmitted);
  t.family('ecd_blocks_refused_total', 'counter', 'Blocks refused by the control API (400)').sample('ecd_blocks_refused_total', m.blocksRefused);
  t.histogram('ecd_commit_latency_seconds', 'Submission through this daemon\'s API to commit here', m.commitLatency);
  t.family('ecd_mempool_entries', 'gauge', 'Consensus mempool entries').sample('ecd_mempool_entries', s.mempool);
  t.family('ecd_commit_head_seq', 'gauge', 'Sequence number of the commit chain head').sample('ecd_commit_head_seq', s.headSeq);
  t.family('ecd_ticks_total', 'counter', 'Consensus ticks').sample('ecd_ticks_total', m.ticks);
  t.family('ecd_tick_overruns_total', 'counter', 'Ticks that started more than one tick late').sample('ecd_tick_overruns_total', m.tickOverruns);
  t.histogram('ecd_tick_seconds', 'Time spent in one tick (evaluation, store write, send)', m.tickSeconds);
  t.histogram('ecd_event_loop_delay_seconds', 'How late each tick timer fired: the event loop\'s delay, sampled at every tick', m.loopDelay);

  t.family('ecd_peers', 'gauge', 'Peers by state');
  t.sample('ecd_peers', s.peersConnected, { state: 'connected' }).sample('ecd_peers', s.peersKnown, { state: 'known' });
  if (s.elections !== undefined) {
    const e = s.elections;
    t.sample('ecd_peers', e.identified, { state: 'identified' }).sample('ecd_peers', e.pending, { state: 'pending' });
    t.family('ecd_neighbourhood_formed', 'gauge', '1 once the closest known peers are Connected (the daemon votes from then on)').sample('ecd_neighbourhood_formed', e.formed ? 1 : 0);
    t.family('ecd_neighbourhood_core_connected_ratio', 'gauge', 'Share of the closest known peers (6 each side) that are Connected').sample('ecd_neighbourhood_core_connected_ratio', e.coreConnected);
    t.family('ecd_elections_running', 'gauge', 'Elections collecting answers').sample('ecd_elections_running', e.elections);
    t.family('ecd_election_messages_total', 'counter', 'Lifecycle messages received, by kind');
    for (const [kind, n] of Object.entries(e.counters)) t.sample('ecd_election_messages_total', n, { kind });
  }
  if (s.sync !== undefined) {
    const y = s.sync;
    t.family('ecd_sync_sessions_total', 'counter', 'Sync sessions, by how they ended');
    t.sample('ecd_sync_sessions_total', y.completed, { result: 'complete' }).sample('ecd_sync_sessions_total', y.sessions - y.completed - (y.running ? 1 : 0), { result: 'incomplete' });
    t.family('ecd_sync_running', 'gauge', '1 while a sync session runs').sample('ecd_sync_running', y.running ? 1 : 0);
    t.family('ecd_sync_mappings_learned_total', 'counter', 'Mappings adopted by sync').sample('ecd_sync_mappings_learned_total', y.learned);
    t.family('ecd_sync_last_session_seconds', 'gauge', 'How long the last sync session took (the sync lag of a daemon that was behind)').sample('ecd_sync_last_session_seconds', (y.last?.ms ?? 0) / 1000);
    t.family('ecd_sync_last_session_unsettled', 'gauge', 'Tokens the last sync session left unsettled: a newer block one partner alone reported').sample('ecd_sync_last_session_unsettled', y.last?.unsettled ?? 0);
    t.family('ecd_sync_last_session_age_seconds', 'gauge', 'Seconds since the last sync session ended').sample('ecd_sync_last_session_age_seconds', (y.last?.endedAgoMs ?? 0) / 1000);
    t.family('ecd_sync_asks_served_total', 'counter', 'SYNC_ASKs answered, and refused over the per-sender budget');
    t.sample('ecd_sync_asks_served_total', y.served, { outcome: 'served' }).sample('ecd_sync_asks_served_total', y.refused, { outcome: 'refused' });
  }
  t.family('ecd_identity_verifications_total', 'counter', 'Peer identity verifications, by outcome');
  t.sample('ecd_identity_verifications_total', m.identityVerified, { outcome: 'ok' }).sample('ecd_identity_verifications_total', m.identityFailed, { outcome: 'failed' });

  if (s.store !== undefined) {
    const st = s.store;
    t.family('ecd_store_reads_total', 'counter', 'Store point reads').sample('ecd_store_reads_total', st.reads);
    t.family('ecd_store_read_misses_total', 'counter', 'Store point reads that found nothing').sample('ecd_store_read_misses_total', st.readMisses);
    t.family('ecd_store_write_txns_total', 'counter', 'Store write transactions, by outcome');
    t.sample('ecd_store_write_txns_total', st.writeTxns, { outcome: 'committed' }).sample('ecd_store_write_txns_total', st.writeTxnsAborted, { outcome: 'aborted' });
    t.family('ecd_store_write_ops_total', 'counter', 'Puts in committed store transactions').sample('ecd_store_write_ops_total', st.writeOps);
    t.family('ecd_store_write_bytes_total', 'counter', 'Key and value bytes written').sample('ecd_store_write_bytes_total', st.writeBytes);
    t.family('ecd_store_write_seconds_total', 'counter', 'Time in committed write transactions (with fsync)').sample('ecd_store_write_seconds_total', st.writeTxnSeconds);
  }
  if (s.queries !== undefined) {
    const q = s.queries;
    t.family('ecd_token_queries_served_total', 'counter', 'QUERY_TOKEN served, by reply');
    t.sample('ecd_token_queries_served_total', q.answered, { reply: 'answer' }).sample('ecd_token_queries_served_total', q.referred, { reply: 'referral' }).sample('ecd_token_queries_served_total', q.forwarded, { reply: 'forwarded' });
    t.family('ecd_token_query_replies_relayed_total', 'counter', 'ANSWER / REFERRAL to a query we forwarded, sent on to its asker').sample('ecd_token_query_replies_relayed_total', q.relayed);
    t.family('ecd_token_queries_refused_total', 'counter', 'QUERY_TOKEN not served, by reason');
    for (const [k, v] of Object.entries(q.refused).sort()) t.sample('ecd_token_queries_refused_total', v, { reason: k });
    t.family('ecd_token_query_responses_dropped_total', 'counter', 'ANSWER / REFERRAL not counted, by reason');
    for (const [k, v] of Object.entries(q.drops).sort()) t.sample('ecd_token_query_responses_dropped_total', v, { reason: k });
  }
  if (s.evidence !== undefined) {
    const e = s.evidence;
    t.family('ecd_evidence_statements', 'gauge', 'Signed statements kept in the evidence book').sample('ecd_evidence_statements', e.statements);
    t.family('ecd_evidence_responders', 'gauge', 'Responders with kept statements').sample('ecd_evidence_responders', e.responders);
    t.family('ecd_evidence_statements_added_total', 'counter', 'Statements checked and kept').sample('ecd_evidence_statements_added_total', e.added);
    t.family('ecd_evidence_statements_evicted_total', 'counter', 'Statements evicted by the book bounds').sample('ecd_evidence_statements_evicted_total', e.evicted);
    t.family('ecd_peers_banned', 'gauge', 'Peers banned by a verified fraud proof').sample('ecd_peers_banned', e.bans);
    t.family('ecd_fraud_proofs_found_total', 'counter', 'Fraud proofs found in our own evidence, by predicate');
    for (const [k, v] of Object.entries(e.proofsFound).sort()) t.sample('ecd_fraud_proofs_found_total', v, { predicate: k });
    t.family('ecd_fraud_proofs_received_total', 'counter', 'FRAUD_PROOF messages received').sample('ecd_fraud_proofs_received_total', e.proofsReceived);
    t.family('ecd_fraud_proofs_refused_total', 'counter', 'FRAUD_PROOF messages that did not check out, by reason');
    for (const [k, v] of Object.entries(e.proofsRefused).sort()) t.sample('ecd_fraud_proofs_refused_total', v, { reason: k });
    t.family('ecd_fraud_proofs_gossiped_total', 'counter', 'FRAUD_PROOF messages sent to Connected peers').sample('ecd_fraud_proofs_gossiped_total', e.proofsGossiped);
    t.family('ecd_unsafe_false_answers_total', 'counter', 'False statements signed under --unsafe-misbehave').sample('ecd_unsafe_false_answers_total', e.lies);
  }
  if (s.jobs !== undefined) {
    const j = s.jobs;
    t.family('ecd_jobs_total', 'counter', 'Compute jobs by side (provider, client) and outcome');
    for (const [k, v] of Object.entries(j.client).sort()) t.sample('ecd_jobs_total', v, { side: 'client', outcome: k });
    if (j.provider !== null) for (const [k, v] of Object.entries(j.provider).sort()) t.sample('ecd_jobs_total', v, { side: 'provider', outcome: k });
    t.family('ecd_jobs_running', 'gauge', 'Jobs running in containers of this provider').sample('ecd_jobs_running', j.running);
  }
  t.family('ecd_http_requests_total', 'counter', 'Control API requests, by status');
  for (const [k, v] of [...m.httpByStatus].sort((a, b) => a[0] - b[0])) t.sample('ecd_http_requests_total', v, { status: String(k) });
  t.family('ecd_uptime_seconds', 'gauge', 'Seconds since start').sample('ecd_uptime_seconds', s.uptimeS);
  return t.toString();
}
