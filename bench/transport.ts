/**
 * Transport benchmark (issue 3): two processes on loopback, 1 200-byte datagrams.
 *
 * This process is the receiver and is what gets measured. A forked child sends, as fast as it
 * can, round robin over 8 connected node:dgram sockets (8 source ports, so that the receiver's
 * per-address bucket of 20 000/s does not decide the result), alternately
 *   - raw phase: the same 1 200-byte datagram to a plain node:dgram socket that only counts;
 *   - frame phase: authenticated 1 200-byte frames (XChaCha20-Poly1305, a fresh packet number
 *     each, sealed before the phase starts so the sender is as fast as in the raw phase) to a
 *     FrameEndpoint on a UdpTransport, which runs the whole receive pipeline and decodes each
 *     message with the blob codec (which copies the body, as a real codec would).
 * Rates are counted on the receiver between the first and the last datagram of a phase. Each
 * phase runs `rounds` times, alternating, and the best round of each is reported (the machine
 * is shared and noisy; best-of is the least disturbed measurement). Drops are the endpoint's
 * counters plus `kernel`: datagrams the sender sent that the socket never delivered.
 *
 * Checked first: one frame is sent and must be handled with the right content before timing.
 *
 *   import { benchTransport } from './bench/transport.js';
 *   const r = await benchTransport({ durationMs: 1000 });
 *
 * Run directly (`node dist/bench/transport.js [ms-per-phase]`) it prints the result as JSON.
 */
import dgram from 'node:dgram';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { loadCrypto } from '../kernels/crypto.js';
import { encodeFrame, frameSize, derivePairKey } from '../wire/frame.js';
import { FrameEndpoint, RECEIVE_DROP_REASONS } from '../daemon/frame-endpoint.js';
import type { ReceiveDropReason } from '../daemon/frame-endpoint.js';
import { DEFAULT_RECV_BUFFER_BYTES, UdpTransport } from '../daemon/transport.js';
import { frameIdentityFromSeed } from '../daemon/pair-keys.js';
import { blobCodec } from '../daemon/blob-codec.js';
import type { BlobMessage } from '../daemon/blob-codec.js';

export interface BenchTransportOptions {
  /** Sending time per phase and round, in ms (default 600; frames are sealed ahead, ≈ 145 MB). */
  readonly durationMs?: number;
  /** Rounds of (raw, frames) (default 2). */
  readonly rounds?: number;
  /** Datagram size (default 1 200). */
  readonly datagramBytes?: number;
}

export interface BenchPhase {
  readonly sent: number;
  readonly sentPerS: number;
  /** Datagrams the receiving socket delivered. */
  readonly received: number;
  /** Raw: datagrams counted. Frames: frames opened, decoded and handed to the handler. */
  readonly completed: number;
  readonly seconds: number;
  readonly perS: number;
}

export interface BenchTransportResult {
  /** Authenticated frames received, opened and decoded per second on the receiving core (best round). */
  readonly frames_per_s: number;
  /** Raw node:dgram datagrams received per second, same sizes, same run (best round). */
  readonly raw_datagrams_per_s: number;
  readonly ratio: number;
  /** Endpoint drops by reason over all frame rounds, plus `kernel` (sent but never delivered). */
  readonly drop_counts: Readonly<Record<ReceiveDropReason | 'kernel', number>>;
  readonly datagramBytes: number;
  readonly durationMs: number;
  readonly rounds: { readonly raw: readonly BenchPhase[]; readonly frames: readonly BenchPhase[] };
  readonly aead: string;
  readonly recvBufferBytes: number;
  readonly node: string;
  /** Always true: the benchmark throws before timing if a frame is not handled correctly. */
  readonly outputsChecked: true;
}

const HOST = '127.0.0.1';
const NETWORK_ID = 0xbe4c_0001n;
const RECEIVER_SEED = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i);
const SENDER_SEED = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
const BODY_KIND = 2;
const SENDER_SOCKETS = 8;
/** Frames sealed ahead per second of a frame phase (above what one node receiver can take). */
const PRESEAL_RATE = 240_000;
/** At most this many sealed frames in memory (≈ 240 MB at 1 200 B). */
const MAX_PRESEALED = 200_000;

type ToSender =
  | { readonly type: 'run'; readonly phase: 'raw' | 'frames' | 'check'; readonly port: number; readonly durationMs: number; readonly bytes: number; readonly receiverPk: string }
  | { readonly type: 'exit' };
type FromSender = { readonly type: 'ready' } | { readonly type: 'done'; readonly sent: number; readonly seconds: number };

function bodyPattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

// ---------------------------------------------------------------------------------------------
// Sender (child process).

async function runSender(): Promise<void> {
  const crypto = await loadCrypto();
  const identity = frameIdentityFromSeed(crypto.ed25519, SENDER_SEED);
  let packetNumber = Date.now() * 1000;
  // The packet number alone keeps every nonce unique; the random part is left zero here.
  const nonceRandom = new Uint8Array(16);

  process.on('message', (m: ToSender) => {
    if (m.type === 'exit') {
      process.disconnect();
      return;
    }
    void (async () => {
      // Several source ports, round robin: one address alone would (rightly) meet the receiver's
      // per-address token bucket (20 000/s) long before the pipeline's limit.
      const sockets: dgram.Socket[] = [];
      for (let i = 0; i < SENDER_SOCKETS; i++) {
        const s = dgram.createSocket('udp4');
        await new Promise<void>((r) => s.connect(m.port, HOST, () => r()));
        sockets.push(s);
      }
      const plaintextBytes = m.bytes - frameSize(0);
      const plaintext = new Uint8Array(plaintextBytes);
      plaintext[0] = BODY_KIND;
      plaintext.set(bodyPattern(plaintextBytes - 1), 1);
      const receiverPk = Uint8Array.from(Buffer.from(m.receiverPk, 'hex'));
      const theirX = crypto.ed25519.publicKeyToX25519(receiverPk);
      const key = theirX === null ? null : derivePairKey(crypto, {
        ownX25519Secret: identity.x25519Secret,
        ownPublicKey: identity.publicKey,
        theirPublicKey: receiverPk,
        theirX25519: theirX,
        networkId: NETWORK_ID,
      });
      if (key === null) throw new Error('bench sender: no pair key');
      const raw = Buffer.alloc(m.bytes, 0xab);
      // Frames are sealed before the clock starts (one slab, views into it), so the sender sends
      // frames as fast as raw datagrams and the receiver, not the sender, is what limits.
      const count = m.phase === 'check' ? 1 : m.phase === 'frames' ? Math.min(MAX_PRESEALED, Math.ceil((m.durationMs / 1000) * PRESEAL_RATE)) : 0;
      const slab = Buffer.allocUnsafe(count * m.bytes);
      const now = Date.now();
      for (let i = 0; i < count; i++) {
        const out = slab.subarray(i * m.bytes, (i + 1) * m.bytes);
        encodeFrame(crypto.aead, key, { senderKey: identity.publicKey, sendTimeMs: now, packetNumber: packetNumber++, nonceRandom }, plaintext, out);
      }
      let sent = 0;
      const t0 = performance.now();
      const end = t0 + m.durationMs;
      if (m.phase === 'raw') {
        // Up to 256 sends per event-loop turn (perf-anchors §7's sender).
        while (performance.now() < end) {
          for (let i = 0; i < 256; i++) sockets[i % SENDER_SOCKETS]!.send(raw);
          sent += 256;
          await tick();
        }
      } else {
        while (sent < count && (m.phase === 'check' || performance.now() < end)) {
          const stop = Math.min(count, sent + 256);
          for (; sent < stop; sent++) sockets[sent % SENDER_SOCKETS]!.send(slab.subarray(sent * m.bytes, (sent + 1) * m.bytes));
          await tick();
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      for (const s of sockets) await new Promise<void>((r) => s.close(() => r()));
      process.send?.({ type: 'done', sent, seconds } satisfies FromSender);
    })();
  });
  process.send?.({ type: 'ready' } satisfies FromSender);
}

// ---------------------------------------------------------------------------------------------
// Receiver (this process).

class Counter {
  count = 0;
  first = 0;
  last = 0;
  hit(): void {
    const t = performance.now();
    if (this.count === 0) this.first = t;
    this.last = t;
    this.count++;
  }
  reset(): void {
    this.count = 0;
    this.first = 0;
    this.last = 0;
  }
  perS(): number {
    const s = (this.last - this.first) / 1000;
    return s > 0 ? (this.count - 1) / s : 0;
  }
}

function ask(child: ChildProcess, m: ToSender): Promise<FromSender & { type: 'done' }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench sender did not answer')), 30_000);
    const on = (r: FromSender): void => {
      if (r.type !== 'done') return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(r);
    };
    child.on('message', on);
    child.send(m);
  });
}

function phase(done: { sent: number; seconds: number }, received: number, c: Counter): BenchPhase {
  return {
    sent: done.sent,
    sentPerS: Math.round(done.sent / done.seconds),
    received,
    completed: c.count,
    seconds: Math.round(c.last - c.first) / 1000,
    perS: Math.round(c.perS()),
  };
}

async function drain(socketCount: () => number): Promise<void> {
  // Wait until nothing new arrives for 50 ms (bounded at 2 s).
  const end = Date.now() + 2_000;
  let last = -1;
  while (Date.now() < end) {
    const n = socketCount();
    if (n === last) return;
    last = n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function benchTransport(opts: BenchTransportOptions = {}): Promise<BenchTransportResult> {
  const durationMs = Math.max(100, Math.min(5_000, opts.durationMs ?? 600));
  const rounds = Math.max(1, Math.min(5, opts.rounds ?? 2));
  const bytes = opts.datagramBytes ?? 1200;
  if (bytes < frameSize(1) || bytes > 1452) throw new RangeError('datagramBytes must be 83..1452');

  const crypto = await loadCrypto();
  const identity = frameIdentityFromSeed(crypto.ed25519, RECEIVER_SEED);

  // Raw receiver: a plain node:dgram socket that counts.
  const rawCounter = new Counter();
  const rawSocket = dgram.createSocket({ type: 'udp4', recvBufferSize: DEFAULT_RECV_BUFFER_BYTES });
  rawSocket.on('message', () => rawCounter.hit());
  await new Promise<void>((r) => rawSocket.bind(0, HOST, () => r()));

  // Frame receiver: the real pipeline.
  const frameCounter = new Counter();
  const expectedBody = bodyPattern(bytes - frameSize(0) - 1);
  let checked: BlobMessage | null = null;
  const transport = new UdpTransport({ host: HOST, port: 0 });
  const endpoint = new FrameEndpoint<BlobMessage>({ transport, crypto, codec: blobCodec() }, { identity, networkId: NETWORK_ID });
  endpoint.onMessage((m) => {
    if (checked === null) checked = m;
    frameCounter.hit();
  });
  await endpoint.start();

  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, ECD_BENCH_TRANSPORT_ROLE: 'sender' },
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('bench sender did not start')), 10_000);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('error', reject);
    });
    const receiverPk = Buffer.from(identity.publicKey).toString('hex');
    const framePort = endpoint.localAddress()!.port;
    const rawPort = (rawSocket.address()).port;

    // Check first: one frame, handled, with the right content.
    await ask(child, { type: 'run', phase: 'check', port: framePort, durationMs: 0, bytes, receiverPk });
    await drain(() => transport.stats().datagramsReceived);
    const c0 = checked as BlobMessage | null;
    if (c0 === null || c0.kind !== BODY_KIND || Buffer.compare(Buffer.from(c0.bytes), Buffer.from(expectedBody)) !== 0) {
      throw new Error(`benchTransport: check frame not handled correctly (${JSON.stringify(endpoint.counters().drop)})`);
    }
    const base = endpoint.counters();
    const baseSocket = transport.stats().datagramsReceived;

    const raw: BenchPhase[] = [];
    const frames: BenchPhase[] = [];
    let framesSent = 0;
    for (let r = 0; r < rounds; r++) {
      rawCounter.reset();
      const rs = await ask(child, { type: 'run', phase: 'raw', port: rawPort, durationMs, bytes, receiverPk });
      await drain(() => rawCounter.count);
      raw.push(phase(rs, rawCounter.count, rawCounter));

      frameCounter.reset();
      const before = transport.stats().datagramsReceived;
      const fs = await ask(child, { type: 'run', phase: 'frames', port: framePort, durationMs, bytes, receiverPk });
      await drain(() => transport.stats().datagramsReceived);
      framesSent += fs.sent;
      const received = transport.stats().datagramsReceived - before;
      frames.push(phase(fs, received, frameCounter));
    }

    const end = endpoint.counters();
    const drops = {} as Record<ReceiveDropReason | 'kernel', number>;
    for (const k of RECEIVE_DROP_REASONS) drops[k] = end.drop[k] - base.drop[k];
    drops.kernel = framesSent - (transport.stats().datagramsReceived - baseSocket);

    const best = (ps: readonly BenchPhase[]): number => Math.max(...ps.map((p) => p.perS));
    const framesPerS = best(frames);
    const rawPerS = best(raw);
    return {
      frames_per_s: Math.round(framesPerS),
      raw_datagrams_per_s: Math.round(rawPerS),
      ratio: rawPerS > 0 ? Math.round((framesPerS / rawPerS) * 1000) / 1000 : 0,
      drop_counts: drops,
      datagramBytes: bytes,
      durationMs,
      rounds: { raw, frames },
      aead: crypto.aead.name,
      recvBufferBytes: transport.recvBufferBytes(),
      node: process.version,
      outputsChecked: true,
    };
  } finally {
    if (child.connected) child.send({ type: 'exit' } satisfies ToSender);
    const exited = child.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(killer);
    await endpoint.stop();
    await new Promise<void>((r) => rawSocket.close(() => r()));
  }
}

// ---------------------------------------------------------------------------------------------

if (process.env['ECD_BENCH_TRANSPORT_ROLE'] === 'sender') {
  await runSender();
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ms = Number(process.argv[2] ?? 600);
  const r = await benchTransport({ durationMs: Number.isFinite(ms) ? ms : 600 });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
