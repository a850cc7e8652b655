/**
 * Two real processes on loopback. This file is also the child: started with
 * ECD_TRANSPORT_CHILD=receiver it runs a FrameEndpoint on 127.0.0.1:0 and answers stats
 * requests over IPC instead of running tests.
 *
 *  - A captured datagram replayed 10 000 times from the sender's port and 10 000 times from
 *    another port is handled exactly once.
 *  - 100 000 random datagrams at a running receiver: it stays up, every datagram sent reaches
 *    it and is accounted for (sent = received = handled + Σ drops, exactly), and honest traffic
 *    continues afterwards.
 *
 * Floods are paced with acknowledgements (`pacedFlood`): never more datagrams in flight (sent,
 * not yet delivered by the receiver's socket) than surely fit its receive buffer, as the kernel
 * granted it. So the kernel never drops a datagram and the counts can be compared exactly,
 * whatever the machine's load.
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
  | { readonly type: 'ready'; readonly port: number; readonly publicKey: string; readonly recvBufferBytes: number }
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
  send({
    type: 'ready',
    port: ep.localAddress()!.port,
    publicKey: Buffer.from(identity.publicKey).toString('hex'),
    recvBufferBytes: transport.recvBufferBytes(),
  });
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
    /** SO_RCVBUF as the kernel reports it for the receiver's socket. */
    readonly recvBufferBytes: number,
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
    return new Receiver(child, ready.port, Uint8Array.from(Buffer.from(ready.publicKey, 'hex')), ready.recvBufferBytes);
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

  /**
   * Datagrams that may be in flight at once and surely fit the receive buffer: half of it,
   * counting 4 KiB of kernel accounting per datagram (a 1 600-byte datagram's skb takes about
   * 2.5 KiB). 1 000 with the 4 MiB the transport asks for; about 50 with Linux's default.
   */
  window(): number {
    return Math.max(8, Math.min(1_000, Math.floor(this.recvBufferBytes / 2 / 4096)));
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

/**
 * Sends `count` datagrams made by `make(i)`, acknowledged: the receiver's socket count is polled
 * and at most `rx.window()` datagrams are ever sent but not yet delivered. Nothing is left for
 * the kernel to drop, so every datagram sent is one the receiver saw, and it returns once all
 * have been delivered. Bounded: 5 s without progress fails the test. Returns how many were sent.
 */
async function pacedFlood(rx: Receiver, send: (d: Uint8Array) => void, count: number, make: (i: number) => Uint8Array): Promise<number> {
  const base = (await rx.stats()).transport.datagramsReceived;
  const window = rx.window();
  let i = 0;
  let delivered = 0;
  let progressAt = Date.now();
  while (delivered < count) {
    const stop = Math.min(count, delivered + window);
    for (; i < stop; i++) send(make(i));
    const now = (await rx.stats()).transport.datagramsReceived - base;
    if (now > delivered) {
      delivered = now;
      progressAt = Date.now();
    } else if (Date.now() - progressAt > 5_000) {
      throw new Error(`receiver's socket delivered ${delivered} of ${i} datagrams sent (a kernel drop?)`);
    }
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
      const sentSame = await pacedFlood(rx, (d) => tx.rawSend(d, to), 10_000, () => captured);
      const sentOther = await pacedFlood(rx, (d) => other.send(d, to.port, to.host), 10_000, () => captured);
      assert.equal(sentSame + sentOther, 20_000);
      const s = await rx.settle(20_001);
      checkSums(s);
      assert.equal(s.transport.datagramsReceived, 20_001, 'every datagram sent was received');
      assert.equal(s.counters.handled, 1, 'handled exactly once');
      assert.equal(s.counters.messages, 1);
      assert.equal(s.counters.drop.replay, 20_000, 'every other copy dropped as a replay');
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
      const sent = await pacedFlood(rx, (d) => junk.send(d, to.port, to.host), 100_000, make);
      const floodMs = Date.now() - t0;
      assert.equal(sent, 100_000);
      const s = await rx.settle(1 + sent);
      checkSums(s);
      // sent = received = handled + Σ drops, exactly: the honest frame plus every junk datagram.
      assert.equal(s.transport.datagramsReceived, 1 + sent, 'every datagram sent was received');
      assert.equal(s.counters.received, 1 + sent);
      assert.equal(s.counters.handled, 1, 'no junk was handled');
      assert.equal(totalDrops(s.counters), sent, 'every junk datagram is counted as exactly one drop');
      const d = s.counters.drop;
      console.error(`flood: ${sent} sent and received in ${floodMs} ms (window ${rx.window()}); drops ${JSON.stringify(d)}`);
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
