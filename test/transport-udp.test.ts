/**
 * Two real processes on loopback. This file is also the child: started with
 * ECD_TRANSPORT_CHILD=receiver it runs a FrameEndpoint on 127.0.0.1:0 and answers stats
 * requests over IPC instead of running tests.
 *
 *  - A captured datagram replayed 10 000 times from the sender's port and 10 000 times from
 *    another port is handled exactly once.
 *  - 100 000 random datagrams at a running receiver: it stays up, its counters add up to the
 *    datagrams its socket actually received (the kernel may drop some under load), and honest
 *    traffic continues afterwards.
 *
 * Loopback only. Every flood is bounded in count and in time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import { loadCrypto } from '../kernels/crypto.js';
import { FrameEndpoint, totalDrops } from '../daemon/frame-endpoint.js';
import type { FrameCounters } from '../daemon/frame-endpoint.js';
import { UdpTransport } from '../daemon/transport.js';
import type { TransportStats } from '../daemon/transport.js';
import { frameIdentityFromSeed } from '../daemon/pair-keys.js';
import { blobCodec } from '../daemon/blob-codec.js';
import type { BlobMessage } from '../daemon/blob-codec.js';

const NET = 3n;
const HOST = '127.0.0.1';
const seedOf = (n: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (n * 31 + i) & 0xff);

interface ChildStats {
  readonly counters: FrameCounters;
  readonly transport: TransportStats;
}

type ToChild = { readonly type: 'stats'; readonly id: number } | { readonly type: 'stop' };
type FromChild =
  | { readonly type: 'ready'; readonly port: number; readonly publicKey: string }
  | { readonly type: 'stats'; readonly id: number; readonly stats: ChildStats };

// ---------------------------------------------------------------------------------------------
// Child: the receiver.

async function runReceiver(): Promise<void> {
  const crypto = await loadCrypto();
  const identity = frameIdentityFromSeed(crypto.ed25519, seedOf(2));
  const transport = new UdpTransport({ host: HOST, port: 0 });
  const ep = new FrameEndpoint<BlobMessage>({ transport, crypto, codec: blobCodec({ packable: [1] }) }, { identity, networkId: NET });
  await ep.start();
  const send = (m: FromChild): void => {
    process.send?.(m);
  };
  process.on('message', (raw: ToChild) => {
    if (raw.type === 'stats') send({ type: 'stats', id: raw.id, stats: { counters: ep.counters(), transport: transport.stats() } });
    else void ep.stop().then(() => process.exit(0));
  });
  process.on('disconnect', () => void ep.stop().then(() => process.exit(0)));
  send({ type: 'ready', port: ep.localAddress()!.port, publicKey: Buffer.from(identity.publicKey).toString('hex') });
}

// ---------------------------------------------------------------------------------------------
// Parent helpers.

class Receiver {
  private nextId = 0;
  private readonly waiting = new Map<number, (s: ChildStats) => void>();
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly publicKey: Uint8Array,
  ) {
    child.on('message', (m: FromChild) => {
      if (m.type === 'stats') {
        this.waiting.get(m.id)?.(m.stats);
        this.waiting.delete(m.id);
      }
    });
  }

  static async spawn(): Promise<Receiver> {
    const env: NodeJS.ProcessEnv = { ...process.env, ECD_TRANSPORT_CHILD: 'receiver' };
    delete env['NODE_TEST_CONTEXT'];
    const child = fork(fileURLToPath(import.meta.url), [], { env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<FromChild & { type: 'ready' }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('receiver did not start')), 10_000);
      child.once('error', reject);
      child.on('message', (m: FromChild) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(m);
        }
      });
    });
    return new Receiver(child, ready.port, Uint8Array.from(Buffer.from(ready.publicKey, 'hex')));
  }

  stats(): Promise<ChildStats> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('receiver did not answer (is it down?)')), 5_000);
      this.waiting.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      this.child.send({ type: 'stats', id } satisfies ToChild);
    });
  }

  /** Polls until the socket count stops moving (or reaches `expect`), bounded by `timeoutMs`. */
  async settle(expect: number, timeoutMs = 8_000): Promise<ChildStats> {
    const end = Date.now() + timeoutMs;
    let last = -1;
    let stableSince = Date.now();
    for (;;) {
      const s = await this.stats();
      const n = s.transport.datagramsReceived;
      if (n >= expect) return s;
      if (n !== last) {
        last = n;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > 300) {
        return s;
      }
      if (Date.now() > end) return s;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ type: 'stop' } satisfies ToChild);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
}

async function rawSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  return s;
}

async function closeSocket(s: dgram.Socket): Promise<void> {
  await new Promise<void>((r) => s.close(() => r()));
}

/** Sends `count` datagrams made by `make(i)` in paced batches; bounded by `maxMs`. Returns how many went out. */
async function flood(send: (d: Uint8Array) => void, count: number, make: (i: number) => Uint8Array, maxMs = 10_000, batch = 200): Promise<number> {
  const end = Date.now() + maxMs;
  let i = 0;
  let batches = 0;
  while (i < count && Date.now() < end) {
    const stop = Math.min(count, i + batch);
    for (; i < stop; i++) send(make(i));
    // A short pause now and then lets a receiver on a busy 2-core machine keep up.
    if (++batches % 8 === 0) await new Promise((r) => setTimeout(r, 1));
    else await tick();
  }
  return i;
}

function checkSums(s: ChildStats): void {
  const c = s.counters;
  assert.equal(c.received, s.transport.datagramsReceived, 'endpoint saw every datagram the socket received');
  assert.equal(c.received, c.handled + totalDrops(c), `counters add up: ${JSON.stringify(c)}`);
  assert.equal(c.drop.internal, 0);
  assert.equal(s.transport.handlerErrors, 0);
}

async function sender(receiver: Receiver) {
  const crypto = await loadCrypto();
  const transport = new UdpTransport({ host: HOST });
  const sentFrames: Uint8Array[] = [];
  const send = transport.send.bind(transport);
  transport.send = (d, to) => {
    sentFrames.push(Uint8Array.from(d));
    send(d, to);
  };
  const ep = new FrameEndpoint<BlobMessage>(
    { transport, crypto, codec: blobCodec({ packable: [1] }) },
    { identity: frameIdentityFromSeed(crypto.ed25519, seedOf(1)), networkId: NET },
  );
  await ep.start();
  const dest = { publicKey: receiver.publicKey, address: { host: HOST, port: receiver.port } };
  return { ep, transport, sentFrames, dest, rawSend: send };
}

// ---------------------------------------------------------------------------------------------

if (process.env['ECD_TRANSPORT_CHILD'] === 'receiver') {
  await runReceiver();
} else {
  test('two processes: a captured datagram replayed 10 000× from the same and another port is handled once', async () => {
    const rx = await Receiver.spawn();
    const tx = await sender(rx);
    const other = await rawSocket();
    try {
      tx.ep.send(tx.dest, [{ kind: 2, bytes: new TextEncoder().encode('pay once') }], { initiate: true });
      const first = await rx.settle(1);
      assert.equal(first.counters.handled, 1);
      const captured = tx.sentFrames[0]!;
      const to = tx.dest.address;
      const sentSame = await flood((d) => tx.rawSend(d, to), 10_000, () => captured);
      const sentOther = await flood((d) => other.send(d, to.port, to.host), 10_000, () => captured);
      assert.equal(sentSame + sentOther, 20_000);
      const s = await rx.settle(20_001);
      checkSums(s);
      assert.equal(s.counters.handled, 1, 'handled exactly once');
      assert.equal(s.counters.messages, 1);
      assert.equal(s.counters.drop.replay, s.counters.received - 1, 'every other copy dropped as a replay');
      assert.ok(s.transport.datagramsReceived > 10_000, `socket received ${s.transport.datagramsReceived} of 20 001`);
    } finally {
      await closeSocket(other);
      await tx.ep.stop();
      await rx.stop();
    }
  });

  test('two processes: 100 000 random datagrams — receiver stays up, counters add up, honest traffic continues', async () => {
    const rx = await Receiver.spawn();
    const tx = await sender(rx);
    const junk = await rawSocket();
    try {
      // One honest frame first, so the receiver has our key cached and junk with our key reaches the AEAD.
      tx.ep.send(tx.dest, [{ kind: 2, bytes: new Uint8Array(8) }], { initiate: true });
      await rx.settle(1);

      // Deterministic junk (xorshift32, fixed seed): raw bytes, frame-shaped with random keys,
      // frame-shaped with our key; random lengths 0..1600.
      let x = 0x1234_5678;
      const rnd = (): number => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return x >>> 0;
      };
      const ownKey = frameIdentityFromSeed((await loadCrypto()).ed25519, seedOf(1)).publicKey;
      const make = (): Uint8Array => {
        const n = rnd() % 1601;
        const d = Buffer.allocUnsafe(n);
        for (let i = 0; i < n; i += 4) {
          const v = rnd();
          d[i] = v;
          if (i + 1 < n) d[i + 1] = v >>> 8;
          if (i + 2 < n) d[i + 2] = v >>> 16;
          if (i + 3 < n) d[i + 3] = v >>> 24;
        }
        const shape = rnd() % 3;
        if (shape > 0 && n >= 34) {
          d[0] = 1;
          d[1] = 0;
          if (shape === 2) d.set(ownKey, 2);
        }
        return d;
      };
      const to = tx.dest.address;
      const t0 = Date.now();
      const sent = await flood((d) => junk.send(d, to.port, to.host), 100_000, make, 15_000, 250);
      const floodMs = Date.now() - t0;
      assert.equal(sent, 100_000);
      const s = await rx.settle(1 + sent);
      checkSums(s);
      assert.equal(s.counters.handled, 1, 'no junk was handled');
      const arrived = s.transport.datagramsReceived - 1;
      // The kernel drops what the receiver cannot take in time (most of it on the portable crypto
      // path, where each of the ≤ 500 budgeted key agreements costs about a millisecond); enough
      // must arrive for the test to mean anything.
      assert.ok(arrived > 5_000, `socket received ${arrived} of ${sent} junk datagrams in ${floodMs} ms`);
      const d = s.counters.drop;
      console.error(`flood: ${arrived}/${sent} arrived in ${floodMs} ms; drops ${JSON.stringify(d)}`);
      assert.ok(d.too_short + d.too_long + d.version + d.flags > 0);
      assert.ok(d.aead > 0 && (d.bad_key > 0 || d.key_budget > 0));

      // Honest traffic continues.
      for (let i = 0; i < 100; i++) {
        tx.ep.send(tx.dest, [{ kind: 2, bytes: new Uint8Array([i]) }]);
        if (i % 20 === 19) await tick();
      }
      const after = await rx.settle(s.transport.datagramsReceived + 100);
      checkSums(after);
      assert.equal(after.counters.handled, 1 + 100, `honest frames after the flood: ${JSON.stringify(after.counters.drop)}`);
    } finally {
      await closeSocket(junk);
      await tx.ep.stop();
      await rx.stop();
    }
  });
}
