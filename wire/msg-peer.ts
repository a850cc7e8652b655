/**
 * Layouts of the peer messages (PROTOCOL §7, §6 sync): PING / PONG (observed address), IDENTITY,
 * QUERY_TOKEN, REFERRAL. ANSWER and FRAUD_PROOF are in wire/msg-answer.ts, SYNC_ASK and SYNC_REPLY
 * in wire/msg-sync.ts. Every body starts with the version byte; integers are big-endian.
 *
 *   PING          version ‖ nonce 16
 *   PONG          version ‖ nonce 16 (echoed) ‖ observed endpoint
 *   IDENTITY      version ‖ identity record 130 (wire/identity.ts)
 *   QUERY_TOKEN   version ‖ flags u8 ‖ token 32 ‖ ticket 16 ‖ requester address 32
 *   REFERRAL      version ‖ token 32 ‖ ticket 16 ‖ count u32 (1..4) ‖ count × (record 130 ‖ endpoint)
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

// ---------------------------------------------------------------------------------------------
// Caps and sizes.

/** Peers in one REFERRAL. PROTOCOL §7 sends two; each may cost the receiver an Argon2id check. */
export const MAX_REFERRAL_PEERS = 4;
export const PEER_SIZES = {
  ping: 1 + 16,
  pongMin: 1 + 16 + ENDPOINT_SIZES.min,
  pongMax: 1 + 16 + ENDPOINT_SIZES.max,
  identity: 1 + IDENTITY_SIZES.record,
  queryToken: 1 + 1 + 32 + 16 + 32,
  referralHeader: 1 + 32 + 16 + COUNT_BYTES,
  referralPeerMin: IDENTITY_SIZES.record + ENDPOINT_SIZES.min,
  referralPeerMax: IDENTITY_SIZES.record + ENDPOINT_SIZES.max,
} as const;

export const PEER_OFFSETS = {
  ping: { version: 0, nonce: 1 },
  pong: { version: 0, nonce: 1, family: 17, ip: 18 },
  identity: { version: 0, record: 1 },
  queryToken: { version: 0, flags: 1, token: 2, ticket: 34, requester: 50 },
  referral: { version: 0, token: 1, ticket: 33, count: 49, peers: 53 },
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
