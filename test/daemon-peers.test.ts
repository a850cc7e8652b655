/**
 * PeerManager (daemon/peers.ts) without sockets: a verified identity is handed to the lifecycle
 * and is only Identified until the lifecycle's sets make it Connected; REFERRALs hand out only
 * verified records; a Connected peer stays Connected while a newer record of its own is checked;
 * a full table evicts throwaway keys, never bootstrap, Connected or verifying peers; a peer that
 * pings us first is pinged back until its PONG validates its address; Connected peers not heard
 * from are pinged every keep-alive and their traffic reaches the lifecycle (which drops the
 * silent ones).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerManager, type PeerManagerModules } from '../daemon/peers.js';
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
const at = (port: number) => ({ host: '127.0.0.1', port });
const ok = (r: IdentityRecord, addressByte: number): IdentityVerifyResult => ({ ok: true, address: fill(32, addressByte), record: r, work: fill(32, 0) });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A table with the given bootstrap keys (ports 9001…), a clock the test moves, and what it told the lifecycle. */
function setup(bootstrap: number[], mods: Partial<PeerManagerModules> = {}, maxPeers?: number) {
  const pending: { record: IdentityRecord; resolve: (r: IdentityVerifyResult) => void }[] = [];
  const lifecycle = { verified: [] as number[], traffic: [] as number[], forgotten: [] as number[] };
  const changes: number[] = [];
  const clock = { now: 1_000 };
  const own = record(0x01);
  const mgr = new PeerManager(
    {
      send: () => undefined,
      verify: (r) => new Promise((resolve) => pending.push({ record: r, resolve })),
      validateAddress: () => undefined,
      random: (n) => fill(n, 9),
      clock: () => clock.now,
      log: silentLogger(),
      ...mods,
    },
    {
      publicKey: own.publicKey,
      identity: own,
      bootstrap: bootstrap.map((b, i) => ({ kind: 'static' as const, publicKey: fill(32, b), endpoint: at(9001 + i), text: '' })),
      onPeersChanged: (connected) => changes.push(connected.length),
      elections: {
        onVerified: (a) => lifecycle.verified.push(a[0] as number),
        onTraffic: (a) => lifecycle.traffic.push(a[0] as number),
        onForgotten: (a) => lifecycle.forgotten.push(a[0] as number),
      },
      ...(maxPeers === undefined ? {} : { maxPeers }),
    },
  );
  /** Key `b` at `port` sends its identity and it verifies with address `addressByte`. */
  const verify = async (b: number, port: number, addressByte: number): Promise<void> => {
    mgr.noteTraffic(fill(32, b), at(port));
    mgr.receive(fill(32, b), at(port), { type: 'identity', record: record(b) });
    pending.shift()!.resolve(ok(record(b), addressByte));
    await tick();
  };
  return { mgr, pending, lifecycle, changes, clock, verify };
}

test('a verified bootstrap peer is only Identified and handed to the lifecycle; the lifecycle\'s sets make it Connected; referrals carry verified records, closest first', async () => {
  const { mgr, lifecycle, changes, verify } = setup([0xa1, 0xb2]);
  await verify(0xa1, 9001, 0x10);
  await verify(0xb2, 9002, 0x80);
  assert.deepEqual(lifecycle.verified, [0x10, 0x80]);
  assert.equal(mgr.connectedAddresses().length, 0, 'bootstrap peers are a way in, not a gift of Connected');
  mgr.applyStates([fill(32, 0x10), fill(32, 0x80)], []);
  assert.equal(mgr.connectedAddresses().length, 2);
  assert.equal(changes.at(-1), 2);
  const refs = mgr.referrals(fill(32, 0x11), 2, fill(32, 0xee));
  assert.deepEqual(refs.map((r) => r.identity.publicKey[0]), [0xa1, 0xb2], 'closest to the key first');
  assert.deepEqual(refs[0]!.endpoint, { family: 4, ip: new Uint8Array([127, 0, 0, 1]), port: 9001 });
  assert.deepEqual(mgr.referrals(fill(32, 0x11), 2, fill(32, 0xa1)).map((r) => r.identity.publicKey[0]), [0xb2], 'never the asker');
  mgr.applyStates([fill(32, 0x80)], []);
  assert.equal(mgr.connectedAddresses().length, 1, 'the lifecycle demotes too');
});

test('a record for another key, or a newer one being verified, neither leaks into referrals nor drops the peer from Connected', async () => {
  const { mgr, pending, verify } = setup([0xa1]);
  await verify(0xa1, 9001, 0x10);
  mgr.applyStates([fill(32, 0x10)], []);
  assert.equal(mgr.connectedAddresses().length, 1);
  // A record of someone else's key from this sender: refused, and never handed out.
  mgr.receive(fill(32, 0xa1), at(9001), { type: 'identity', record: record(0xcc) });
  const refs = mgr.referrals(fill(32, 0x11), 2, fill(32, 0xee));
  assert.equal(refs.length, 1);
  assert.equal(refs[0]!.identity.publicKey[0], 0xa1, 'the verified record, not the last one received');
  // A newer record of its own: the peer stays Connected while it is checked.
  mgr.receive(fill(32, 0xa1), at(9001), { type: 'identity', record: record(0xa1, 5) });
  assert.equal(pending.length, 1, 'the newer record is being verified');
  assert.equal(mgr.connectedAddresses().length, 1, 'still Connected meanwhile');
  pending.shift()!.resolve({ ok: false, code: 'BAD_SIGNATURE', reason: 'no' } as IdentityVerifyResult);
  await tick();
  assert.equal(mgr.connectedAddresses().length, 1, 'a bad newer record does not cost the verified one');
  assert.equal(mgr.referrals(fill(32, 0x11), 2, fill(32, 0xee))[0]!.identity.nonce[0], 0);
});

test('a table full of throwaway keys makes room for a new peer; bootstrap, Connected and verifying peers are never evicted', async () => {
  const { mgr, clock, lifecycle, verify } = setup([0xa1], {}, 8);
  await verify(0xa1, 9001, 0x10);
  mgr.applyStates([fill(32, 0x10)], []);
  // Seven throwaway keys fill the table (they never send an identity).
  for (let i = 0; i < 7; i++) {
    clock.now++;
    assert.ok(mgr.noteTraffic(fill(32, 0x20 + i), at(10_000 + i)));
  }
  assert.equal(mgr.counts().known, 8);
  // A newcomer evicts the stalest throwaway key, not the Connected bootstrap peer.
  clock.now++;
  assert.ok(mgr.noteTraffic(fill(32, 0x77), at(11_000)), 'a new peer gets in');
  assert.equal(mgr.evicted, 1);
  assert.equal(mgr.counts().known, 8);
  assert.ok(mgr.list().some((p) => p.publicKey === Buffer.from(fill(32, 0x77)).toString('hex')));
  assert.ok(!mgr.list().some((p) => p.publicKey === Buffer.from(fill(32, 0x20)).toString('hex')), 'the oldest throwaway key went');
  assert.deepEqual(lifecycle.forgotten, [], 'an unverified key has no address for the lifecycle to forget');
  assert.equal(mgr.connectedAddresses().length, 1, 'the Connected peer stays');
  // Peers whose identity is being verified are not evicted either: a table of them refuses.
  for (const p of mgr.list()) {
    if (p.state !== 'unverified') continue;
    const pk = Buffer.from(p.publicKey, 'hex');
    mgr.receive(pk, at(1), { type: 'identity', record: record(pk[0]!) });
  }
  assert.equal(mgr.noteTraffic(fill(32, 0x78), at(11_001)), false, 'full of live peers: refused');
});

test('a peer that pings us first is pinged back (once per keep-alive) until its PONG validates its address', () => {
  const sent: { type: string; nonce?: Uint8Array }[] = [];
  const validated: string[] = [];
  const { mgr, clock } = setup([], {
    send: (_to, m) => sent.push(m as { type: string; nonce?: Uint8Array }),
    verify: () => new Promise(() => undefined),
    validateAddress: (a) => validated.push(`${a.host}:${a.port}`),
    random: (n) => fill(n, 0x5a),
  });
  const pk = fill(32, 0xc3);
  mgr.noteTraffic(pk, at(7001));
  mgr.receive(pk, at(7001), { type: 'ping', nonce: fill(16, 1) });
  assert.deepEqual(sent.map((m) => m.type).sort(), ['identity', 'ping', 'pong']);
  sent.length = 0;
  clock.now += 1_000;
  mgr.receive(pk, at(7001), { type: 'ping', nonce: fill(16, 2) });
  assert.deepEqual(sent.map((m) => m.type).sort(), ['identity', 'pong'], 'no second PING within the keep-alive interval');
  assert.deepEqual(validated, []);
  mgr.receive(pk, at(7001), { type: 'pong', nonce: fill(16, 0x5a), observed: { family: 4, ip: new Uint8Array([127, 0, 0, 1]), port: 9999 } });
  assert.deepEqual(validated, ['127.0.0.1:7001'], 'the PONG to our PING proves the address');
  // Proven, it is not pinged back again: its own PINGs keep us both heard.
  const proven = setup([], { send: (_to, m) => sent.push(m as { type: string }), verify: () => new Promise(() => undefined), validated: () => true });
  sent.length = 0;
  proven.mgr.noteTraffic(pk, at(7001));
  proven.mgr.receive(pk, at(7001), { type: 'ping', nonce: fill(16, 3) });
  assert.deepEqual(sent.map((m) => m.type).sort(), ['identity', 'pong']);
});

test('a silent Connected peer is pinged every keep-alive, one heard from is not, and frames reach the lifecycle; an unverified bootstrap peer is greeted until it verifies', async () => {
  const sent: string[] = [];
  const { mgr, clock, lifecycle, verify } = setup([0xa1, 0xb2], { send: (to, m) => sent.push(`${m.type}:${to.publicKey[0] as number}`) });
  mgr.start();
  try {
    await verify(0xa1, 9001, 0x10);
    mgr.applyStates([fill(32, 0x10)], []);
    sent.length = 0;
    /** The daemon's ticks over `ms` (50 ms apart); `heard` makes the Connected peer send a frame each second. */
    const run = (ms: number, heard: boolean): void => {
      for (let t = 50; t <= ms; t += 50) {
        clock.now += 50;
        if (heard && t % 1_000 === 0) mgr.noteTraffic(fill(32, 0xa1), at(9001));
        mgr.tick();
      }
    };
    run(10_000, false);
    // 10 s: two keep-alive pings to the silent Connected peer; the unverified bootstrap peer is greeted every 500 ms.
    assert.equal(sent.filter((s) => s === `ping:${0xa1}`).length, 2);
    assert.ok(sent.filter((s) => s === `identity:${0xb2}`).length >= 18);
    assert.equal(sent.filter((s) => s === `identity:${0xa1}`).length, 0, 'a verified peer is not greeted again');
    sent.length = 0;
    run(10_000, true);
    assert.equal(sent.filter((s) => s === `ping:${0xa1}`).length, 0, 'a peer that keeps us hearing from it is not pinged');
    lifecycle.traffic.length = 0;
    mgr.noteTraffic(fill(32, 0xa1), at(9001));
    assert.deepEqual(lifecycle.traffic, [0x10], 'its frames tell the lifecycle it is alive');
  } finally {
    mgr.stop();
  }
});
