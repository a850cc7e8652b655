/**
 * daemon/known-peers.ts: the peers file a restarted daemon starts its elections from round-trips
 * its records and endpoints, and a damaged file loses nothing else: bad entries are skipped and
 * counted, a file of another version or not JSON yields no peers, and no more than the cap is read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeKnownPeers, encodeKnownPeers, KNOWN_PEERS } from '../daemon/known-peers.js';
import type { IdentityRecord } from '../wire/identity.js';
import type { ReferredPeer } from '../wire/msg-peer.js';

const record = (b: number): IdentityRecord => ({ version: 1, networkId: 3n, publicKey: new Uint8Array(32).fill(b), nonce: new Uint8Array(16).fill(1), time: 5, difficulty: 2, signature: new Uint8Array(64).fill(9) });
const v4 = (port: number): ReferredPeer['endpoint'] => ({ family: 4, ip: Uint8Array.from([127, 0, 0, 1]), port });
const v6 = (port: number): ReferredPeer['endpoint'] => ({ family: 6, ip: Uint8Array.from([...new Array<number>(15).fill(0), 1]), port });

test('known peers: records and endpoints round-trip; IPv6 hosts too', () => {
  const text = encodeKnownPeers([{ identity: record(1), endpoint: v4(4433) }, { identity: record(2), endpoint: v6(9000) }]);
  const d = decodeKnownPeers(text);
  assert.equal(d.skipped, 0);
  assert.deepEqual(d.peers, [
    { identity: record(1), endpoint: { host: '127.0.0.1', port: 4433 } },
    { identity: record(2), endpoint: { host: '::1', port: 9000 } },
  ]);
});

test('known peers: a damaged file yields the good entries and counts the rest; other versions and non-JSON yield none', () => {
  const good = JSON.parse(encodeKnownPeers([{ identity: record(1), endpoint: v4(1) }])) as { version: number; peers: Record<string, unknown>[] };
  const e = good.peers[0] as Record<string, unknown>;
  const bad = [{ ...e, port: 0 }, { ...e, port: 70_000 }, { ...e, host: '' }, { ...e, identity: 'zz' }, { ...e, identity: (e['identity'] as string).slice(0, 40) }, null, 'x'];
  const d = decodeKnownPeers(JSON.stringify({ version: 1, peers: [e, ...bad] }));
  assert.equal(d.peers.length, 1);
  assert.equal(d.skipped, bad.length);
  assert.deepEqual(decodeKnownPeers(JSON.stringify({ version: 2, peers: [e] })).peers, []);
  assert.deepEqual(decodeKnownPeers('{not json').peers, []);
  assert.deepEqual(decodeKnownPeers(' '.repeat(KNOWN_PEERS.maxBytes + 1)).peers, []);
  const many = decodeKnownPeers(JSON.stringify({ version: 1, peers: new Array(KNOWN_PEERS.maxEntries + 5).fill(e) }));
  assert.equal(many.peers.length, KNOWN_PEERS.maxEntries);
  assert.equal(many.skipped, 5);
});
