/**
 * PeerManager (daemon/peers.ts) without sockets: bootstrap peers become Connected when their
 * identity verifies, REFERRALs hand out only verified records, and a Connected peer stays
 * Connected while a newer record of its own is being checked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerManager } from '../daemon/peers.js';
import { silentLogger } from '../daemon/log.js';
import type { IdentityRecord, IdentityVerifyResult } from '../wire/identity.js';

const fill = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);
const record = (pkByte: number, nonceByte = 0): IdentityRecord => ({
  version: 1,
  networkId: 3n,
  publicKey: fill(32, pkByte),
  nonce: fill(16, nonceByte),
  time: 1_700_000_000,
  difficulty: 2,
  signature: fill(64, 7),
});

function setup() {
  const pending: { record: IdentityRecord; resolve: (r: IdentityVerifyResult) => void }[] = [];
  const changes: number[] = [];
  const own = record(0x01);
  const mgr = new PeerManager(
    {
      send: () => undefined,
      verify: (r) => new Promise((resolve) => pending.push({ record: r, resolve })),
      validateAddress: () => undefined,
      random: (n) => fill(n, 9),
      clock: () => 1_000,
      log: silentLogger(),
    },
    {
      publicKey: own.publicKey,
      identity: own,
      bootstrap: [0xa1, 0xb2].map((b, i) => ({ kind: 'static' as const, publicKey: fill(32, b), endpoint: { host: '127.0.0.1', port: 9001 + i }, text: '' })),
      onPeersChanged: (connected) => changes.push(connected.length),
    },
  );
  const ok = (r: IdentityRecord, addressByte: number): IdentityVerifyResult => ({ ok: true, address: fill(32, addressByte), record: r, work: fill(32, 0) });
  return { mgr, pending, changes, ok };
}

test('bootstrap peers become Connected once verified; referrals carry their verified records, closest first', async () => {
  const { mgr, pending, ok } = setup();
  const from = (port: number) => ({ host: '127.0.0.1', port });
  for (const [b, port] of [[0xa1, 9001], [0xb2, 9002]] as const) {
    assert.ok(mgr.noteTraffic(fill(32, b), from(port)));
    mgr.receive(fill(32, b), from(port), { type: 'identity', record: record(b) });
  }
  assert.equal(mgr.connectedAddresses().length, 0, 'nothing is Connected before verification');
  pending.shift()!.resolve(ok(record(0xa1), 0x10));
  pending.shift()!.resolve(ok(record(0xb2), 0x80));
  await new Promise((r) => setImmediate(r));
  assert.equal(mgr.connectedAddresses().length, 2);
  const refs = mgr.referrals(fill(32, 0x11), 2, fill(32, 0xee));
  assert.deepEqual(refs.map((r) => r.identity.publicKey[0]), [0xa1, 0xb2], 'closest to the key first');
  assert.deepEqual(refs[0]!.endpoint, { family: 4, ip: new Uint8Array([127, 0, 0, 1]), port: 9001 });
  assert.deepEqual(mgr.referrals(fill(32, 0x11), 2, fill(32, 0xa1)).map((r) => r.identity.publicKey[0]), [0xb2], 'never the asker');
});

test('a record for another key, or a newer one being verified, neither leaks into referrals nor drops the peer from Connected', async () => {
  const { mgr, pending, ok } = setup();
  const at = { host: '127.0.0.1', port: 9001 };
  mgr.noteTraffic(fill(32, 0xa1), at);
  mgr.receive(fill(32, 0xa1), at, { type: 'identity', record: record(0xa1) });
  pending.shift()!.resolve(ok(record(0xa1), 0x10));
  await new Promise((r) => setImmediate(r));
  assert.equal(mgr.connectedAddresses().length, 1);
  // A record of someone else's key from this sender: refused, and never handed out.
  mgr.receive(fill(32, 0xa1), at, { type: 'identity', record: record(0xcc) });
  const refs = mgr.referrals(fill(32, 0x11), 2, fill(32, 0xee));
  assert.equal(refs.length, 1);
  assert.equal(refs[0]!.identity.publicKey[0], 0xa1, 'the verified record, not the last one received');
  // A newer record of its own: the peer stays Connected while it is checked.
  mgr.receive(fill(32, 0xa1), at, { type: 'identity', record: record(0xa1, 5) });
  assert.equal(pending.length, 1, 'the newer record is being verified');
  assert.equal(mgr.connectedAddresses().length, 1, 'still Connected meanwhile');
  pending.shift()!.resolve({ ok: false, code: 'BAD_SIGNATURE', reason: 'no' } as IdentityVerifyResult);
  await new Promise((r) => setImmediate(r));
  assert.equal(mgr.connectedAddresses().length, 1, 'a bad newer record does not cost the verified one');
  assert.equal(mgr.referrals(fill(32, 0x11), 2, fill(32, 0xee))[0]!.identity.nonce[0], 0);
});

test('a table full of throwaway keys makes room for a new peer; bootstrap and Connected peers are never evicted', async () => {
  const pending: { resolve: (r: IdentityVerifyResult) => void }[] = [];
  let now = 1_000;
  const own = record(0x01);
  const mgr = new PeerManager(
    {
      send: () => undefined,
      verify: () => new Promise((resolve) => pending.push({ resolve })),
      validateAddress: () => undefined,
      random: (n) => fill(n, 9),
      clock: () => now,
      log: silentLogger(),
    },
    {
      publicKey: own.publicKey,
      identity: own,
      bootstrap: [{ kind: 'static' as const, publicKey: fill(32, 0xa1), endpoint: { host: '127.0.0.1', port: 9001 }, text: '' }],
      onPeersChanged: () => undefined,
      maxPeers: 8,
    },
  );
  const at = (port: number) => ({ host: '127.0.0.1', port });
  // The bootstrap peer verifies and is Connected.
  mgr.noteTraffic(fill(32, 0xa1), at(9001));
  mgr.receive(fill(32, 0xa1), at(9001), { type: 'identity', record: record(0xa1) });
  pending.shift()!.resolve({ ok: true, address: fill(32, 0x10), record: record(0xa1), work: fill(32, 0) });
  await new Promise((r) => setImmediate(r));
  // Seven throwaway keys fill the table (they never send an identity).
  for (let i = 0; i < 7; i++) {
    now++;
    assert.ok(mgr.noteTraffic(fill(32, 0x20 + i), at(10_000 + i)));
  }
  assert.equal(mgr.counts().known, 8);
  // A newcomer evicts the stalest throwaway key, not the Connected bootstrap peer.
  now++;
  assert.ok(mgr.noteTraffic(fill(32, 0x77), at(11_000)), 'a new peer gets in');
  assert.equal(mgr.evicted, 1);
  assert.equal(mgr.counts().known, 8);
  assert.ok(mgr.list().some((p) => p.publicKey === Buffer.from(fill(32, 0x77)).toString('hex')));
  assert.ok(!mgr.list().some((p) => p.publicKey === Buffer.from(fill(32, 0x20)).toString('hex')), 'the oldest throwaway key went');
  assert.equal(mgr.connectedAddresses().length, 1, 'the Connected peer stays');
  // Peers whose identity is being verified are not evicted either: a table of them refuses.
  for (const p of mgr.list()) {
    if (p.state !== 'unverified') continue;
    const pk = Buffer.from(p.publicKey, 'hex');
    mgr.receive(pk, at(1), { type: 'identity', record: record(pk[0]!) });
  }
  assert.equal(mgr.noteTraffic(fill(32, 0x78), at(11_001)), false, 'full of live peers: refused');
});

test('a peer that pings us first is pinged back (once per keep-alive), and its PONG validates its address', () => {
  const sent: { type: string; nonce?: Uint8Array }[] = [];
  const validated: string[] = [];
  let now = 1_000;
  const own = record(0x01);
  const mgr = new PeerManager(
    {
      send: (_to, m) => sent.push(m as { type: string; nonce?: Uint8Array }),
      verify: () => new Promise(() => undefined),
      validateAddress: (a) => validated.push(`${a.host}:${a.port}`),
      random: (n) => fill(n, 0x5a),
      clock: () => now,
      log: silentLogger(),
    },
    { publicKey: own.publicKey, identity: own, bootstrap: [], onPeersChanged: () => undefined },
  );
  const pk = fill(32, 0xc3);
  const at = { host: '127.0.0.1', port: 7001 };
  mgr.noteTraffic(pk, at);
  mgr.receive(pk, at, { type: 'ping', nonce: fill(16, 1) });
  assert.deepEqual(sent.map((m) => m.type).sort(), ['identity', 'ping', 'pong']);
  sent.length = 0;
  now += 1_000;
  mgr.receive(pk, at, { type: 'ping', nonce: fill(16, 2) });
  assert.deepEqual(sent.map((m) => m.type).sort(), ['identity', 'pong'], 'no second PING within the keep-alive interval');
  assert.deepEqual(validated, []);
  mgr.receive(pk, at, { type: 'pong', nonce: fill(16, 0x5a), observed: { family: 4, ip: new Uint8Array([127, 0, 0, 1]), port: 9999 } });
  assert.deepEqual(validated, ['127.0.0.1:7001'], 'the PONG to our PING proves the address');
});

test('a Connected peer silent for three keep-alives leaves the Connected set; its next frame brings it back', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let now = 1_000;
  const pending: { resolve: (r: IdentityVerifyResult) => void; record: IdentityRecord }[] = [];
  const changes: number[] = [];
  const own = record(0x01);
  const mgr = new PeerManager(
    {
      send: () => undefined,
      verify: (r) => new Promise((resolve) => pending.push({ record: r, resolve })),
      validateAddress: () => undefined,
      random: (n) => fill(n, 9),
      clock: () => now,
      log: silentLogger(),
    },
    {
      publicKey: own.publicKey,
      identity: own,
      bootstrap: [{ kind: 'static' as const, publicKey: fill(32, 0xa1), endpoint: { host: '127.0.0.1', port: 9001 }, text: '' }],
      onPeersChanged: (connected) => changes.push(connected.length),
    },
  );
  const from = { host: '127.0.0.1', port: 9001 };
  mgr.start();
  try {
    assert.ok(mgr.noteTraffic(fill(32, 0xa1), from));
    mgr.receive(fill(32, 0xa1), from, { type: 'identity', record: record(0xa1) });
    pending.shift()!.resolve({ ok: true, address: fill(32, 0x10), record: record(0xa1), work: fill(32, 0) });
    await new Promise((r) => setImmediate(r));
    assert.equal(mgr.connectedAddresses().length, 1);
    // 14 s of silence: still Connected (pings go out).
    for (let i = 0; i < 56; i++) {
      now += 250;
      t.mock.timers.tick(250);
    }
    assert.equal(mgr.connectedAddresses().length, 1, 'still Connected before the silence limit');
    for (let i = 0; i < 8; i++) {
      now += 250;
      t.mock.timers.tick(250);
    }
    assert.equal(mgr.connectedAddresses().length, 0, 'dropped after 15 s without a frame');
    assert.equal(changes.at(-1), 0);
    assert.ok(mgr.noteTraffic(fill(32, 0xa1), from));
    assert.equal(mgr.connectedAddresses().length, 1, 'back with its first frame');
    assert.equal(changes.at(-1), 1);
  } finally {
    mgr.stop();
  }
});
