/**
 * Layouts of the peer messages (PROTOCOL §7, §6 sync): PING / PONG (observed address), IDENTITY,
 * QUERY_TOKEN, REFERRAL, QUERY_COMMIT / COMMIT_BLOCK. ANSWER and FRAUD_PROOF are in
 * wire/msg-answer.ts. Every body starts with the version byte; integers are big-endian.
 *
 *   PING          version ‖ nonce 16
 *   PONG          version ‖ nonce 16 (echoed) ‖ observed endpoint
 *   IDENTITY      version ‖ identity record 130 (wire/identity.ts)
 *   QUERY_TOKEN   version ‖ flags u8 ‖ token 32 ‖ ticket 16 ‖ requester address 32
 *   REFERRAL      version ‖ token 32 ‖ ticket 16 ‖ count u32 (1..4) ‖ count × (record 130 ‖ endpoint)
 *   QUERY_COMMIT  version ‖ ticket 16 ‖ selector u8 ‖ seq u64 ‖ commit id 32
 *   COMMIT_BLOCK  version ‖ ticket 16 ‖ seq u64 ‖ prev id 32 ‖ time u64 ‖ count u32 (1..40) ‖ ids
 *
 *   endpoint = family u8 (4 | 6) ‖ ip 4 | 16 ‖ port u16
 */
import { IDENTITY_SIZES, decodeIdentity, encodeIdentity, identityFieldProblem } from './identity.js';
import type { IdentityRecord } from './identity.js';
import {
  COUNT_BYTES,
  DecodeStop,
  ENDPOINT_SIZES,
  FIELD_SIZES,
  MAX_BODY_BYTES,
  countProblem,
  endpointProblem,
  endpointSize,
  fieldError,
  isBytes,
  isU64,
  readEndpoint,
  writeEndpoint,
} from './msg-common.js';
import type { LayoutSpec, Reader, WireEncodeError, WireEndpoint } from './msg-common.js';

export const KIND_PING = 1;
export const KIND_PONG = 2;
export const KIND_IDENTITY = 3;
export const KIND_QUERY_TOKEN = 32;
export const KIND_REFERRAL = 34;
export const KIND_QUERY_COMMIT = 35;
export const KIND_COMMIT_BLOCK = 36;

// ---------------------------------------------------------------------------------------------
// Types.

/** Asks the receiver to answer with a PONG echoing `nonce` and the address it saw us at. */
export interface PingMessage {
  readonly type: 'ping';
  /** 16 random bytes chosen by the sender. */
  readonly nonce: Uint8Array;
}

export interface PongMessage {
  readonly type: 'pong';
  /** The PING's nonce: proves the PONG's sender received our PING (address validation). */
  readonly nonce: Uint8Array;
  /** The source address the PING arrived from, as the PONG's sender saw it. */
  readonly observed: WireEndpoint;
}

export interface IdentityMessage {
  readonly type: 'identity';
  readonly record: IdentityRecord;
}

export const QUERY_TOKEN_FLAG_PROOF = 0x01;
export const QUERY_TOKEN_FLAG_FORWARD = 0x02;
export const QUERY_TOKEN_KNOWN_FLAGS = QUERY_TOKEN_FLAG_PROOF | QUERY_TOKEN_FLAG_FORWARD;

/** QUERY_TOKEN (§7): answered by ANSWER, REFERRAL, or (Connected askers) forwarded. */
export interface QueryTokenMessage {
  readonly type: 'query-token';
  readonly token: Uint8Array;
  readonly ticket: Uint8Array;
  /**
   * Address of the original requester: the ANSWER is bound to it (its proof hash and its signed
   * `requester` field). A forwarder keeps it unchanged.
   */
  readonly requester: Uint8Array;
  /** Ask for the 10-pair proof of storage. */
  readonly wantProof: boolean;
  /** The asker accepts that the query be forwarded instead of referred. */
  readonly allowForward: boolean;
}

export interface ReferredPeer {
  readonly identity: IdentityRecord;
  readonly endpoint: WireEndpoint;
}

/** REFERRAL (§7): Connected peers closer to `token`, with their identity records and endpoints. */
export interface ReferralMessage {
  readonly type: 'referral';
  readonly token: Uint8Array;
  readonly ticket: Uint8Array;
  readonly peers: readonly ReferredPeer[];
}

export type CommitTarget =
  | { readonly by: 'head' }
  | { readonly by: 'seq'; readonly seq: number }
  | { readonly by: 'id'; readonly id: Uint8Array };

/** QUERY_COMMIT (§6 sync): asks for one commit record of the receiver's chain. */
export interface QueryCommitMessage {
  readonly type: 'query-commit';
  readonly ticket: Uint8Array;
  readonly target: CommitTarget;
}

/**
 * COMMIT_BLOCK: one commit record (wire/block.ts `CommitRecordFields`); the receiver recomputes
 * its id with `commitRecordId` and checks it against what it asked for.
 */
export interface CommitBlockMessage {
  readonly type: 'commit-block';
  readonly ticket: Uint8Array;
  readonly seq: number;
  readonly prevId: Uint8Array;
  /** Unix ms. */
  readonly time: number;
  readonly blockIds: readonly Uint8Array[];
}

// ---------------------------------------------------------------------------------------------
// Caps and sizes.

/** Peers in one REFERRAL. PROTOCOL §7 sends two; each may cost the receiver an Argon2id check. */
export const MAX_REFERRAL_PEERS = 4;
/** Block ids in one COMMIT_BLOCK: the most that fit one body, floor((1 369 − 69) / 32) = 40. */
export const MAX_COMMIT_BLOCK_IDS = Math.floor((MAX_BODY_BYTES - (1 + 16 + 8 + 32 + 8 + COUNT_BYTES)) / 32);

export const COMMIT_SELECTOR = { head: 0, id: 1, seq: 2 } as const;

export const PEER_SIZES = {
  ping: 1 + 16,
  pongMin: 1 + 16 + ENDPOINT_SIZES.min,
  pongMax: 1 + 16 + ENDPOINT_SIZES.max,
  identity: 1 + IDENTITY_SIZES.record,
  queryToken: 1 + 1 + 32 + 16 + 32,
  referralHeader: 1 + 32 + 16 + COUNT_BYTES,
  referralPeerMin: IDENTITY_SIZES.record + ENDPOINT_SIZES.min,
  referralPeerMax: IDENTITY_SIZES.record + ENDPOINT_SIZES.max,
  queryCommit: 1 + 16 + 1 + 8 + 32,
  commitBlockHeader: 1 + 16 + 8 + 32 + 8 + COUNT_BYTES,
} as const;

export const PEER_OFFSETS = {
  ping: { version: 0, nonce: 1 },
  pong: { version: 0, nonce: 1, family: 17, ip: 18 },
  identity: { version: 0, record: 1 },
  queryToken: { version: 0, flags: 1, token: 2, ticket: 34, requester: 50 },
  referral: { version: 0, token: 1, ticket: 33, count: 49, peers: 53 },
  queryCommit: { version: 0, ticket: 1, selector: 17, seq: 18, id: 26 },
  commitBlock: { version: 0, ticket: 1, seq: 17, prevId: 25, time: 57, count: 65, blockIds: 69 },
} as const;

// ---------------------------------------------------------------------------------------------
// Layouts.

export const PING: LayoutSpec<PingMessage> = {
  kind: KIND_PING,
  name: 'PING',
  packable: true,
  maxBody: PEER_SIZES.ping,
  check: (m) => (isBytes(m.nonce, FIELD_SIZES.nonce) ? null : fieldError('nonce', 'must be 16 bytes')),
  size: () => FIELD_SIZES.nonce,
  write(w, m) {
    w.bytes(m.nonce);
  },
  read: (r) => ({ type: 'ping', nonce: r.bytes(16, 'nonce') }),
};

export const PONG: LayoutSpec<PongMessage> = {
  kind: KIND_PONG,
  name: 'PONG',
  packable: true,
  maxBody: PEER_SIZES.pongMax,
  check: (m) => (isBytes(m.nonce, FIELD_SIZES.nonce) ? endpointProblem(m.observed, 'observed') : fieldError('nonce', 'must be 16 bytes')),
  size: (m) => FIELD_SIZES.nonce + endpointSize(m.observed),
  write(w, m) {
    w.bytes(m.nonce);
    writeEndpoint(w, m.observed);
  },
  read(r) {
    const nonce = r.bytes(16, 'nonce');
    const observed = readEndpoint(r, 'observed');
    return { type: 'pong', nonce, observed };
  },
};

function identityProblem(rec: IdentityRecord | undefined, field: string): WireEncodeError | null {
  if (rec === null || typeof rec !== 'object') return fieldError(field, 'must be an identity record');
  const p = identityFieldProblem(rec);
  if (p !== null) return fieldError(field, p);
  if (!isBytes(rec.signature, IDENTITY_SIZES.signature)) return fieldError(field, 'needs a 64-byte signature');
  return null;
}

const IDENTITY_PARTS: readonly (readonly [string, number])[] = [
  ['version', IDENTITY_SIZES.version],
  ['networkId', IDENTITY_SIZES.networkId],
  ['publicKey', IDENTITY_SIZES.publicKey],
  ['nonce', IDENTITY_SIZES.nonce],
  ['time', IDENTITY_SIZES.time],
  ['difficulty', IDENTITY_SIZES.difficulty],
  ['signature', IDENTITY_SIZES.signature],
];

function readIdentity(r: Reader, field: string): IdentityRecord {
  const bytes = r.bytes(IDENTITY_SIZES.record, field, IDENTITY_PARTS);
  const d = decodeIdentity(bytes);
  if (!d.ok) throw new DecodeStop('identity', field);
  return d.record;
}

export const IDENTITY: LayoutSpec<IdentityMessage> = {
  kind: KIND_IDENTITY,
  name: 'IDENTITY',
  packable: true,
  maxBody: PEER_SIZES.identity,
  check: (m) => identityProblem(m.record, 'record'),
  size: () => IDENTITY_SIZES.record,
  write(w, m) {
    w.bytes(encodeIdentity(m.record));
  },
  read: (r) => ({ type: 'identity', record: readIdentity(r, 'record') }),
};

export const QUERY_TOKEN: LayoutSpec<QueryTokenMessage> = {
  kind: KIND_QUERY_TOKEN,
  name: 'QUERY_TOKEN',
  packable: true,
  maxBody: PEER_SIZES.queryToken,
  check(m) {
    if (!isBytes(m.token, FIELD_SIZES.token)) return fieldError('token', 'must be 32 bytes');
    if (!isBytes(m.ticket, FIELD_SIZES.ticket)) return fieldError('ticket', 'must be 16 bytes');
    if (!isBytes(m.requester, FIELD_SIZES.address)) return fieldError('requester', 'must be 32 bytes');
    if (typeof m.wantProof !== 'boolean' || typeof m.allowForward !== 'boolean') return fieldError('flags', 'must be booleans');
    return null;
  },
  size: () => PEER_SIZES.queryToken - 1,
  write(w, m) {
    w.u8((m.wantProof ? QUERY_TOKEN_FLAG_PROOF : 0) | (m.allowForward ? QUERY_TOKEN_FLAG_FORWARD : 0));
    w.bytes(m.token);
    w.bytes(m.ticket);
    w.bytes(m.requester);
  },
  read(r) {
    const flags = r.flags(QUERY_TOKEN_KNOWN_FLAGS, 'flags');
    const token = r.bytes(32, 'token');
    const ticket = r.bytes(16, 'ticket');
    const requester = r.bytes(32, 'requester');
    return {
      type: 'query-token',
      token,
      ticket,
      requester,
      wantProof: (flags & QUERY_TOKEN_FLAG_PROOF) !== 0,
      allowForward: (flags & QUERY_TOKEN_FLAG_FORWARD) !== 0,
    };
  },
};

export const REFERRAL: LayoutSpec<ReferralMessage> = {
  kind: KIND_REFERRAL,
  name: 'REFERRAL',
  packable: false,
  maxBody: PEER_SIZES.referralHeader + MAX_REFERRAL_PEERS * PEER_SIZES.referralPeerMax,
  check(m) {
    if (!isBytes(m.token, FIELD_SIZES.token)) return fieldError('token', 'must be 32 bytes');
    if (!isBytes(m.ticket, FIELD_SIZES.ticket)) return fieldError('ticket', 'must be 16 bytes');
    const c = countProblem(m.peers, 1, MAX_REFERRAL_PEERS, 'peers');
    if (c !== null) return c;
    for (const p of m.peers) {
      if (p === null || typeof p !== 'object') return fieldError('peers', 'must hold peers');
      const q = identityProblem(p.identity, 'peers.identity') ?? endpointProblem(p.endpoint, 'peers.endpoint');
      if (q !== null) return q;
    }
    return null;
  },
  size: (m) => 32 + 16 + COUNT_BYTES + m.peers.reduce((s, p) => s + IDENTITY_SIZES.record + endpointSize(p.endpoint), 0),
  write(w, m) {
    w.bytes(m.token);
    w.bytes(m.ticket);
    w.u32(m.peers.length);
    for (const p of m.peers) {
      w.bytes(encodeIdentity(p.identity));
      writeEndpoint(w, p.endpoint);
    }
  },
  read(r) {
    const token = r.bytes(32, 'token');
    const ticket = r.bytes(16, 'ticket');
    const n = r.count(1, MAX_REFERRAL_PEERS, PEER_SIZES.referralPeerMin, 'peers');
    const peers: ReferredPeer[] = [];
    for (let i = 0; i < n; i++) {
      const identity = readIdentity(r, 'peers.identity');
      const endpoint = readEndpoint(r, 'peers.endpoint');
      peers.push({ identity, endpoint });
    }
    return { type: 'referral', token, ticket, peers };
  },
};

const ZERO32 = new Uint8Array(32);

export const QUERY_COMMIT: LayoutSpec<QueryCommitMessage> = {
  kind: KIND_QUERY_COMMIT,
  name: 'QUERY_COMMIT',
  packable: true,
  maxBody: PEER_SIZES.queryCommit,
  check(m) {
    if (!isBytes(m.ticket, FIELD_SIZES.ticket)) return fieldError('ticket', 'must be 16 bytes');
    const t = m.target;
    if (t === null || typeof t !== 'object') return fieldError('target', 'must be a commit target');
    if (t.by === 'head') return null;
    if (t.by === 'seq') return isU64(t.seq) ? null : fieldError('target.seq', 'must be a u64 below 2^53');
    if (t.by === 'id') return isBytes(t.id, FIELD_SIZES.id) ? null : fieldError('target.id', 'must be 32 bytes');
    return fieldError('target.by', "must be 'head', 'seq' or 'id'");
  },
  size: () => PEER_SIZES.queryCommit - 1,
  write(w, m) {
    w.bytes(m.ticket);
    const t = m.target;
    w.u8(COMMIT_SELECTOR[t.by]);
    w.u64(t.by === 'seq' ? t.seq : 0);
    w.bytes(t.by === 'id' ? t.id : ZERO32);
  },
  read(r) {
    const ticket = r.bytes(16, 'ticket');
    const selector = r.enumU8([COMMIT_SELECTOR.head, COMMIT_SELECTOR.id, COMMIT_SELECTOR.seq], 'selector');
    const seq = r.u64('seq');
    const id = r.bytes(32, 'id');
    const idZero = id.every((b) => b === 0);
    // Unused fields are zero, so every query has exactly one encoding.
    if (selector !== COMMIT_SELECTOR.seq && seq !== 0) throw new DecodeStop('field', 'seq');
    if (selector !== COMMIT_SELECTOR.id && !idZero) throw new DecodeStop('field', 'id');
    const target: CommitTarget = selector === COMMIT_SELECTOR.head ? { by: 'head' } : selector === COMMIT_SELECTOR.seq ? { by: 'seq', seq } : { by: 'id', id };
    return { type: 'query-commit', ticket, target };
  },
};

export const COMMIT_BLOCK: LayoutSpec<CommitBlockMessage> = {
  kind: KIND_COMMIT_BLOCK,
  name: 'COMMIT_BLOCK',
  packable: false,
  maxBody: PEER_SIZES.commitBlockHeader + MAX_COMMIT_BLOCK_IDS * 32,
  check(m) {
    if (!isBytes(m.ticket, FIELD_SIZES.ticket)) return fieldError('ticket', 'must be 16 bytes');
    if (!isU64(m.seq)) return fieldError('seq', 'must be a u64 below 2^53');
    if (!isBytes(m.prevId, FIELD_SIZES.id)) return fieldError('prevId', 'must be 32 bytes');
    if (!isU64(m.time)) return fieldError('time', 'must be a u64 below 2^53');
    const c = countProblem(m.blockIds, 1, MAX_COMMIT_BLOCK_IDS, 'blockIds');
    if (c !== null) return c;
    for (const id of m.blockIds) if (!isBytes(id, FIELD_SIZES.id)) return fieldError('blockIds', 'must hold 32-byte ids');
    return null;
  },
  size: (m) => PEER_SIZES.commitBlockHeader - 1 + 32 * m.blockIds.length,
  write(w, m) {
    w.bytes(m.ticket);
    w.u64(m.seq);
    w.bytes(m.prevId);
    w.u64(m.time);
    w.u32(m.blockIds.length);
    for (const id of m.blockIds) w.bytes(id);
  },
  read(r) {
    const ticket = r.bytes(16, 'ticket');
    const seq = r.u64('seq');
    const prevId = r.bytes(32, 'prevId');
    const time = r.u64('time');
    const n = r.count(1, MAX_COMMIT_BLOCK_IDS, 32, 'blockIds');
    const blockIds: Uint8Array[] = [];
    for (let i = 0; i < n; i++) blockIds.push(r.bytes(32, 'blockIds'));
    return { type: 'commit-block', ticket, seq, prevId, time, blockIds };
  },
};
