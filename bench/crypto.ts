/**
 * Crypto kernel benchmark at the protocol's real sizes (PROTOCOL.md §3): seal+open of a
 * 1200-byte frame with the 66-byte header as AD, one Ed25519 verification, one X25519, one
 * BLAKE3 of 64 bytes. Every implementation available in this process is measured in the same
 * run, and each result is reported as a ratio to the fastest one of its category.
 *
 * Outputs are checked first: every implementation must produce the same bytes as the noble
 * reference, or the benchmark throws before timing anything.
 *
 *   import { benchCrypto } from './bench/crypto.js';
 *   const r = await benchCrypto({ time: 300 }); // ms per task; a plain JSON-able object
 *
 * Run directly (`node dist/bench/crypto.js [ms-per-task]`) it prints the result as JSON.
 */
import { Bench } from 'tinybench';
import { pathToFileURL } from 'node:url';
import { aeadImplementations, bestAead, loadSodiumNative, nobleXAead } from '../kernels/aead.js';
import { bestEd25519, ed25519Implementations, nobleEd25519 } from '../kernels/ed25519.js';
import { bestX25519, nobleX25519, x25519Implementations } from '../kernels/x25519.js';
import { blake3Implementations, initBlake3, nobleBlake3 } from '../kernels/blake3.js';

export interface BenchCryptoOptions {
  /** Measuring time per task in milliseconds (default 300). */
  readonly time?: number;
}

export interface BenchEntry {
  readonly name: string;
  /** Operations per second (an "operation" is defined per category). */
  readonly opsPerSec: number;
  /** opsPerSec divided by the fastest entry of the same category (1 for the fastest). */
  readonly ratioToFastest: number;
  /** Relative margin of error of the per-sample latency, in percent. */
  readonly rmePercent: number;
  readonly samples: number;
}

export interface BenchCategory {
  readonly operation: string;
  /** The implementation the daemon uses (the kernel's best*() choice). */
  readonly ours: string;
  readonly fastest: string;
  readonly results: readonly BenchEntry[];
}

export interface CryptoBenchResult {
  readonly node: string;
  readonly sodiumNative: boolean;
  readonly timePerTaskMs: number;
  /** Always true: the benchmark throws if any implementation disagrees with the reference. */
  readonly outputsChecked: true;
  readonly categories: {
    readonly aead: BenchCategory;
    readonly ed25519Verify: BenchCategory;
    readonly x25519: BenchCategory;
    readonly blake3: BenchCategory;
  };
}

const FRAME = 1200;
const HEADER = 66;

function filled(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function same(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchCrypto: output check failed: ${what}`);
}

interface TaskSpec {
  readonly name: string;
  /** How many operations one call of `fn` performs (fast operations are batched). */
  readonly batch: number;
  readonly fn: () => void;
}

async function measure(operation: string, ours: string, tasks: readonly TaskSpec[], time: number): Promise<BenchCategory> {
  const bench = new Bench({ time, warmupTime: Math.min(100, Math.max(10, time / 3)), throws: true });
  for (const t of tasks) bench.add(t.name, t.fn);
  await bench.run();
  const raw = tasks.map((t, i) => {
    const r = bench.tasks[i]!.result;
    if (r.state !== 'completed') throw new Error(`benchCrypto: task ${t.name} ended ${r.state}`);
    return { name: t.name, opsPerSec: (t.batch * 1000) / r.period, rmePercent: r.latency.rme, samples: bench.tasks[i]!.runs };
  });
  const top = Math.max(...raw.map((r) => r.opsPerSec));
  const results = raw
    .map((r) => ({
      name: r.name,
      opsPerSec: Math.round(r.opsPerSec),
      ratioToFastest: Math.round((r.opsPerSec / top) * 1000) / 1000,
      rmePercent: Math.round(r.rmePercent * 10) / 10,
      samples: r.samples,
    }))
    .sort((a, b) => b.opsPerSec - a.opsPerSec);
  return { operation, ours, fastest: results[0]!.name, results };
}

export async function benchCrypto(opts: BenchCryptoOptions = {}): Promise<CryptoBenchResult> {
  const time = opts.time ?? 300;
  const sodium = loadSodiumNative();

  // ---- inputs ----
  const key = filled(32, 1);
  const nonce = filled(24, 2);
  const frame = filled(FRAME, 3);
  const header = filled(HEADER, 4);
  const seed = filled(32, 5);
  const message = filled(64, 6);
  const xSecret = filled(32, 7);
  const xPeer = nobleX25519.publicKey(filled(32, 8));
  const block64 = filled(64, 9);

  // ---- check outputs first ----
  const aeads = aeadImplementations();
  const sealedRef = nobleXAead.seal(key, nonce, frame, header);
  for (const a of aeads) {
    check(same(a.seal(key, nonce, frame, header), sealedRef), `${a.name} seal`);
    check(same(a.open(key, nonce, sealedRef, header), frame), `${a.name} open`);
    const into = new Uint8Array(sealedRef.length);
    a.sealInto(into, key, nonce, frame, header);
    const intoOpened = new Uint8Array(frame.length);
    check(same(into, sealedRef) && a.openInto(intoOpened, key, nonce, sealedRef, header) && same(intoOpened, frame), `${a.name} sealInto/openInto`);
  }
  const rawSealed = new Uint8Array(FRAME + 16);
  const rawOpened = new Uint8Array(FRAME);
  if (sodium) {
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(rawSealed, frame, header, null, nonce, key);
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(rawOpened, null, rawSealed, header, nonce, key);
    check(same(rawSealed, sealedRef) && same(rawOpened, frame), 'raw sodium-native');
  }

  const eds = ed25519Implementations();
  const refSigner = nobleEd25519.signerFromSeed(seed);
  const signature = refSigner.sign(message);
  for (const ed of eds) {
    const s = ed.signerFromSeed(seed);
    check(same(s.publicKey, refSigner.publicKey) && same(s.sign(message), signature), `${ed.name} sign`);
    check(ed.verify(signature, message, refSigner.publicKey), `${ed.name} verify`);
  }

  const xs = x25519Implementations();
  const sharedRef = nobleX25519.sharedSecret(xSecret, xPeer);
  for (const x of xs) check(same(x.sharedSecret(xSecret, xPeer), sharedRef), `${x.name} X25519`);

  const b3s = await blake3Implementations();
  const b3Ref = nobleBlake3.hash(block64);
  for (const b of b3s) check(same(b.hash(block64), b3Ref), `${b.name} BLAKE3`);

  // ---- time ----
  // Each AEAD call uses a fresh nonce (byte 0 counts), as real frames do; every task pays the same.
  // The frame path seals into the outgoing datagram and opens into a receive buffer
  // (sealInto/openInto), so that is what is timed; the allocating seal/open are timed beside it.
  const intoSealed = new Uint8Array(FRAME + 16);
  const intoOpened = new Uint8Array(FRAME);
  const aeadTasks: TaskSpec[] = aeads.flatMap((a): TaskSpec[] => [
    {
      name: `${a.name} (sealInto/openInto)`,
      batch: 8,
      fn: () => {
        for (let i = 0; i < 8; i++) {
          nonce[0] = (nonce[0]! + 1) & 0xff;
          a.sealInto(intoSealed, key, nonce, frame, header);
          if (!a.openInto(intoOpened, key, nonce, intoSealed, header)) throw new Error('open failed');
        }
      },
    },
    {
      name: `${a.name} (seal/open, allocating)`,
      batch: 8,
      fn: () => {
        for (let i = 0; i < 8; i++) {
          nonce[0] = (nonce[0]! + 1) & 0xff;
          const sealed = a.seal(key, nonce, frame, header);
          if (a.open(key, nonce, sealed, header) === null) throw new Error('open failed');
        }
      },
    },
  ]);
  if (sodium) {
    aeadTasks.push({
      name: 'sodium-native (raw calls, preallocated buffers)',
      batch: 8,
      fn: () => {
        for (let i = 0; i < 8; i++) {
          nonce[0] = (nonce[0]! + 1) & 0xff;
          sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(rawSealed, frame, header, null, nonce, key);
          sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(rawOpened, null, rawSealed, header, nonce, key);
        }
      },
    });
  }
  const aead = await measure(`seal + open, ${FRAME}-byte frame, ${HEADER}-byte AD`, `${bestAead().name} (sealInto/openInto)`, aeadTasks, time);

  const edTasks: TaskSpec[] = eds.map((ed) => ({
    name: ed.name,
    batch: 1,
    fn: () => {
      if (!ed.verify(signature, message, refSigner.publicKey)) throw new Error('verify failed');
    },
  }));
  const ed25519Verify = await measure('Ed25519 verify, 64-byte message (node:crypto: cached KeyObject)', bestEd25519().name, edTasks, time);

  const xTasks: TaskSpec[] = xs.map((x) => ({
    name: x.name,
    batch: 1,
    fn: () => {
      if (x.sharedSecret(xSecret, xPeer) === null) throw new Error('X25519 failed');
    },
  }));
  const x25519 = await measure('X25519 shared secret (node:crypto: cached KeyObjects)', bestX25519().name, xTasks, time);

  const b3Tasks: TaskSpec[] = b3s.map((b) => ({
    name: b.name,
    batch: 64,
    fn: () => {
      for (let i = 0; i < 64; i++) {
        block64[0] = i;
        b.hash(block64);
      }
    },
  }));
  const blake3 = await measure('BLAKE3 hash of 64 bytes, 32-byte output', (await initBlake3()).name, b3Tasks, time);

  return {
    node: process.version,
    sodiumNative: sodium !== null,
    timePerTaskMs: time,
    outputsChecked: true,
    categories: { aead, ed25519Verify, x25519, blake3 },
  };
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(invokedPath).href) {
  const ms = Number(process.argv[2] ?? 300);
  const result = await benchCrypto({ time: Number.isFinite(ms) && ms > 0 ? ms : 300 });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
