/**
 * `<dataDir>/peers.json`: the Connected peers this daemon held (identity record and endpoint),
 * written every minute and at stop. A restarted daemon introduces them at start and, once a
 * record verifies (like a referral's), invites that peer again (consensus/lifecycle.ts `rejoin`)
 * instead of walking referrals from one bootstrap peer and electing its neighbours anew. A missing
 * or damaged file is ignored (the daemon starts from its bootstrap peers), and never more than
 * `maxEntries` are read.
 *
 *   {"version": 1, "peers": [{"identity": hex of the 130-byte record, "host": "127.0.0.1", "port": 4433}]}
 */
import { decodeIdentity, encodeIdentity, type IdentityRecord } from '../wire/identity.js';
import { endpointHost } from '../wire/msg-common.js';
import type { ReferredPeer } from '../wire/msg-peer.js';
import type { PeerAddress } from './transport.js';

export const KNOWN_PEERS = {
  file: 'peers.json',
  maxEntries: 64,
  maxBytes: 64 * 1024,
  saveEveryMs: 60_000,
} as const;

export interface KnownPeer {
  readonly identity: IdentityRecord;
  readonly endpoint: PeerAddress;
}

export function encodeKnownPeers(peers: readonly ReferredPeer[]): string {
  const list = peers.slice(0, KNOWN_PEERS.maxEntries).map((p) => ({ identity: Buffer.from(encodeIdentity(p.identity)).toString('hex'), host: endpointHost(p.endpoint), port: p.endpoint.port }));
  return `${JSON.stringify({ version: 1, peers: list })}\n`;
}

/** The well-formed entries of a file (at most `maxEntries`) and how many were not. */
export function decodeKnownPeers(text: string): { peers: KnownPeer[]; skipped: number } {
  let o: unknown;
  try {
    o = text.length > KNOWN_PEERS.maxBytes ? null : JSON.parse(text);
  } catch {
    o = null;
  }
  const list = typeof o === 'object' && o !== null && (o as { version?: unknown }).version === 1 ? (o as { peers?: unknown }).peers : null;
  if (!Array.isArray(list)) return { peers: [], skipped: 1 };
  const peers: KnownPeer[] = [];
  let skipped = 0;
  for (const e of list.slice(0, KNOWN_PEERS.maxEntries)) {
    const p = knownPeer(e);
    if (p === null) skipped++;
    else peers.push(p);
  }
  return { peers, skipped: skipped + Math.max(0, list.length - KNOWN_PEERS.maxEntries) };
}

function knownPeer(e: unknown): KnownPeer | null {
  if (typeof e !== 'object' || e === null) return null;
  const { identity, host, port } = e as Record<string, unknown>;
  if (typeof identity !== 'string' || !/^([0-9a-f]{2})+$/.test(identity) || typeof host !== 'string' || host.length === 0 || host.length > 64) return null;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) return null;
  const d = decodeIdentity(new Uint8Array(Buffer.from(identity, 'hex')));
  return d.ok ? { identity: d.record, endpoint: { host, port } } : null;
}
