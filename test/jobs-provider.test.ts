/**
 * Compute jobs in-process (PROTOCOL §10): a JobClient and JobProviders wired back to back over an
 * in-memory network that encodes every message to its wire body and back, and can drop, duplicate
 * and reorder them (seeded); providers run on the recorded-fixture container host
 * (helpers/fake-container-host.ts) under virtual time (node:test mock timers, Date included).
 * Real crypto kernels; the books over MemoryJobKv and, once more, over LMDB with a reopen between
 * a provider's crash and its restart.
 *
 * Covered: every admission refusal, idempotent resubmission, the happy path with multi-chunk
 * output delivered out of order and verified at the client, every end of the lifecycle (exited,
 * killed by timeout / oom / owner, failed for each engine failure), tampered receipts and chunks
 * caught with the provider's trust dropping, trust credit bounded by the spec, spot checks,
 * restart reconciliation cases (a)–(e), and crashes at seeded points after which every job still
 * ends with a receipt and no container is left. A contract test runs the same host observations
 * over the fixture and, when one is configured, the real engine, so the fixture stays honest.
 */
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCrypto } from '../kernels/crypto.js';
import type { Ed25519Signer } from '../kernels/types.js';
import { ContainerHostError, EngineContainerHost, JOB_LIMITS, type ContainerHost, type ContainerHostErrorCode, type JobRunSpec } from '../daemon/container-host.js';
import { silentLogger } from '../daemon/log.js';
import { JobClient, type JobRequest, type SubmitOutcome } from '../daemon/jobs/client.js';
import { receiptOf } from '../store/jobs.js';
import { JobProvider, type ProviderOptions } from '../daemon/jobs/provider.js';
import { currentScore, TRUST_PARAMS } from '../daemon/jobs/trust.js';
import { JobBook, MemoryJobKv, type ClientJob, type JobKv, type ProviderJob } from '../store/jobs.js';
import { openLmdbStore, type LmdbStore } from '../store/lmdb.js';
import { decodeBody, encodeBody, kindOfType } from '../wire/messages.js';
import {
  jobId as computeJobId,
  outputChain,
  signJobMessage,
  verifyJobMessage,
  type JobMessage,
  type JobReceiptMessage,
  type JobState,
  type JobSubmitMessage,
  type RefuseReason,
} from '../wire/msg-jobs.js';
import { FakeEngine, type ContainerScript, type FakeContainerHost } from './helpers/fake-container-host.js';
import { findEngine } from './helpers/container-engine.js';
import { SeededRng } from './helpers/seeded-rng.js';

const crypto = await loadCrypto();
const NET = 0x6563_6400n;
const T0 = 1_760_000_000_000;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const IMAGE = `sha256:${'ab'.repeat(32)}`;
const IMAGE_BYTES = Uint8Array.from(Buffer.from('ab'.repeat(32), 'hex'));
const OTHER_IMAGE_BYTES = Uint8Array.from(Buffer.from('cd'.repeat(32), 'hex'));
const FINAL: ReadonlySet<JobState> = new Set(['exited', 'killed', 'failed']);
const STEP_MS = 20;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const sameBytes = (a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean => a != null && b != null && hex(a) === hex(b);

const tmpRoot = mkdtempSync(join(tmpdir(), 'ecd-jobs-provider-'));
let dirCount = 0;
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

// ——— stores ———

type StoreKind = 'memory' | 'lmdb';

/** A JobBook that can be reopened (LMDB: closed and opened again from disk). */
interface BookHandle {
  book: JobBook;
  reopen(): void;
  close(): void;
}

function lmdbKv(s: LmdbStore): JobKv {
  return { get: (k) => s.jobsGet(k), write: (e) => s.jobsWrite(e), range: (p) => s.jobsRange(p) };
}

function openBook(kind: StoreKind): BookHandle {
  if (kind === 'memory') {
    const kv = new MemoryJobKv();
    const h: BookHandle = {
      book: new JobBook(kv),
      reopen: () => {
        h.book = new JobBook(kv);
      },
      close: () => undefined,
    };
    return h;
  }
  const path = join(tmpRoot, `db${dirCount++}`);
  let store = openLmdbStore(path, { networkId: NET });
  const h: BookHandle = {
    book: new JobBook(lmdbKv(store)),
    reopen: () => {
      store.close();
      store = openLmdbStore(path, { networkId: NET });
      h.book = new JobBook(lmdbKv(store));
    },
    close: () => store.close(),
  };
  return h;
}

// ——— network ———

type Handler = (from: Uint8Array, m: JobMessage) => void;

interface Envelope {
  readonly from: Uint8Array;
  readonly to: string;
  readonly kind: number;
  readonly body: Uint8Array;
}

/** Peers by key; each message travels as its encoded body. Faults come from one seeded RNG. */
class Net {
  private readonly routes = new Map<string, Handler | null>();
  private queue: Envelope[] = [];
  drop = 0;
  dup = 0;
  reorder = false;
  /** Rewrites what a peer sends (a lying provider). */
  tamper: ((from: string, to: string, m: JobMessage) => JobMessage) | null = null;
  readonly delivered: { readonly from: string; readonly to: string; readonly m: JobMessage }[] = [];
  readonly stats = { sent: 0, dropped: 0, duplicated: 0, toDownPeer: 0 };

  constructor(readonly rng: SeededRng) {}

  /** A known peer; null: known but down (its messages are lost). */
  route(key: Uint8Array, h: Handler | null): void {
    this.routes.set(hex(key), h);
  }

  send(from: Uint8Array, to: Uint8Array, m: JobMessage): boolean {
    const k = hex(to);
    if (!this.routes.has(k)) return false;
    const out = this.tamper === null ? m : this.tamper(hex(from), k, m);
    this.queue.push({ from: Uint8Array.from(from), to: k, kind: kindOfType(out.type), body: encodeBody(out) });
    this.stats.sent++;
    return true;
  }

  pending(): number {
    return this.queue.length;
  }

  /** Delivers what was queued (not what delivery queues); returns how many were queued. */
  flush(): number {
    const batch = this.queue;
    this.queue = [];
    if (this.reorder) this.rng.shuffle(batch);
    for (const e of batch) {
      if (this.rng.chance(this.drop)) {
        this.stats.dropped++;
        continue;
      }
      const copies = this.rng.chance(this.dup) ? 2 : 1;
      if (copies === 2) this.stats.duplicated++;
      for (let i = 0; i < copies; i++) this.deliver(e);
    }
    return batch.length;
  }

  private deliver(e: Envelope): void {
    const h = this.routes.get(e.to);
    if (h === undefined || h === null) {
      this.stats.toDownPeer++;
      return;
    }
    const d = decodeBody(e.kind, e.body);
    assert.ok(d.ok, `a message did not decode: ${d.ok ? '' : `${d.field}: ${d.code}`}`);
    const m = d.message as JobMessage;
    this.delivered.push({ from: hex(e.from), to: e.to, m });
    h(e.from, m);
  }
}

/** A daemon's job dispatch (daemon/node.ts `onJobMessage`). */
function dispatch(client: () => JobClient | null, provider: () => JobProvider | null): Handler {
  return (from, m) => {
    const c = client();
    const p = provider();
    switch (m.type) {
      case 'job-offer':
        return c?.onOffer(from, m);
      case 'job-submit':
        return p?.onSubmit(from, m);
      case 'job-query':
        return p?.onQuery(from, m);
      case 'job-accept':
        return c?.onAccept(from, m);
      case 'job-refuse':
        return c?.onRefuse(from, m);
      case 'job-status':
        return c?.onStatus(from, m);
      case 'job-receipt':
        return c?.onReceipt(from, m);
      case 'job-output':
        return c?.onOutput(from, m);
    }
  };
}

// ——— the world ———

interface ProviderNode {
  readonly name: string;
  readonly signer: Ed25519Signer;
  readonly key: Uint8Array;
  readonly daemonId: string;
  readonly engine: FakeEngine;
  readonly store: BookHandle;
  readonly options: ProviderOptions;
  host: FakeContainerHost | null;
  provider: JobProvider | null;
}

interface WorldOptions {
  readonly store: StoreKind;
  readonly seed?: number;
  readonly providers?: readonly Partial<ProviderOptions>[];
  readonly drop?: number;
  readonly dup?: number;
  readonly reorder?: boolean;
}

const PROVIDER_DEFAULTS: ProviderOptions = {
  images: ['busybox:1', 'missing:1'],
  cpuNano: 4e9,
  memoryBytes: 2 * GiB,
  maxTimeoutMs: 60_000,
  maxOutputBytes: 256 * 1024,
  pricePerCpuSecond: 1,
  pricePerGiBSecond: 1,
};

function signerFor(fill: number): Ed25519Signer {
  return crypto.ed25519.signerFromSeed(new Uint8Array(32).fill(fill));
}

interface Tracked<T> {
  readonly done: () => boolean;
  readonly value: () => T;
}

class World {
  readonly net: Net;
  readonly rng: SeededRng;
  readonly clientSigner = signerFor(1);
  readonly clientKey = this.clientSigner.publicKey;
  readonly clientStore: BookHandle;
  readonly client: JobClient;
  readonly providers: ProviderNode[] = [];

  private constructor(
    private readonly t: TestContext,
    readonly seed: number,
    o: WorldOptions,
  ) {
    this.rng = new SeededRng(seed);
    this.net = new Net(new SeededRng(seed ^ 0x5eed));
    this.net.drop = o.drop ?? 0;
    this.net.dup = o.dup ?? 0;
    this.net.reorder = o.reorder ?? false;
    this.clientStore = openBook(o.store);
    this.client = new JobClient({
      book: this.clientStore.book,
      blake3: crypto.blake3,
      ed25519: crypto.ed25519,
      signer: this.clientSigner,
      networkId: NET,
      send: (to, m) => this.net.send(this.clientKey, to, m),
      clock: () => Date.now(),
      random: (n) => this.rng.bytes(n),
      log: silentLogger(),
    });
    this.net.route(this.clientKey, dispatch(() => this.client, () => null));
    (o.providers ?? [{}]).forEach((p, i) => {
      const signer = signerFor(10 + i);
      const node: ProviderNode = {
        name: `p${i}`,
        signer,
        key: signer.publicKey,
        daemonId: hex(signer.publicKey),
        engine: new FakeEngine({ images: { 'busybox:1': IMAGE } }),
        store: openBook(o.store),
        options: { ...PROVIDER_DEFAULTS, ...p },
        host: null,
        provider: null,
      };
      node.engine.define('hello', { stdout: 'hello\n', durationMs: 100 });
      node.engine.define('sleep', { durationMs: Infinity });
      this.providers.push(node);
    });
  }

  static async create(t: TestContext, o: WorldOptions): Promise<World> {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: T0 });
    const w = new World(t, o.seed ?? 1, o);
    w.client.start();
    for (const p of w.providers) await w.startProvider(p);
    await w.settle();
    return w;
  }

  get p(): ProviderNode {
    return this.providers[0] as ProviderNode;
  }

  /** A provider daemon comes up: a new client of its engine, a new JobProvider over its book. */
  async startProvider(n: ProviderNode): Promise<void> {
    n.host = n.engine.connect(n.daemonId);
    const provider = new JobProvider(
      {
        host: n.host,
        book: n.store.book,
        blake3: crypto.blake3,
        ed25519: crypto.ed25519,
        signer: n.signer,
        networkId: NET,
        send: (to, m) => this.net.send(n.key, to, m),
        connectedKeys: () => [this.clientKey],
        clock: () => Date.now(),
        log: silentLogger(),
      },
      n.options,
    );
    n.provider = provider;
    this.net.route(n.key, dispatch(() => null, () => n.provider));
    await provider.start();
  }

  /** The provider daemon dies: nothing more is written, its peers hear nothing; the book is reopened. */
  async crash(n: ProviderNode): Promise<void> {
    this.net.route(n.key, null);
    await n.provider?.stop();
    n.provider = null;
    n.host = null;
    n.store.reopen();
  }

  async settle(): Promise<void> {
    let idle = 0;
    for (let i = 0; i < 10_000; i++) {
      const moved = this.net.flush();
      await new Promise<void>((r) => setImmediate(r));
      if (moved === 0 && this.net.pending() === 0) {
        if (++idle >= 3) return;
      } else idle = 0;
    }
    assert.fail(`the network never went quiet (seed ${this.seed})`);
  }

  async advance(ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= STEP_MS) {
      this.t.mock.timers.tick(Math.min(STEP_MS, left));
      await this.settle();
    }
  }

  async until(what: string, cond: () => boolean, maxMs = 60_000): Promise<void> {
    const end = Date.now() + maxMs;
    await this.settle();
    while (!cond()) {
      if (Date.now() >= end) assert.fail(`${what}: not within ${maxMs} virtual ms (seed ${this.seed})`);
      this.t.mock.timers.tick(STEP_MS);
      await this.settle();
    }
  }

  track<T>(p: Promise<T>): Tracked<T> {
    let settled = false;
    let value: T | undefined;
    let error: unknown;
    p.then(
      (v) => {
        settled = true;
        value = v;
      },
      (e: unknown) => {
        settled = true;
        error = e;
      },
    );
    return {
      done: () => settled,
      value: () => {
        if (error !== undefined) throw error;
        return value as T;
      },
    };
  }

  async submit(r: JobRequest): Promise<SubmitOutcome> {
    const s = this.track(this.client.submit(r));
    await this.until('the submit answered', s.done, 30_000);
    return s.value();
  }

  cjob(id: string): ClientJob {
    const j = this.client.job(id);
    assert.ok(j !== undefined, `no client job ${id}`);
    return j;
  }

  pjob(n: ProviderNode, id: string): ProviderJob | undefined {
    return n.store.book.providerJob(Uint8Array.from(Buffer.from(id, 'hex')));
  }

  /** The client holds a receipt and the verified output (or scored it as it ended). */
  verified(id: string): boolean {
    const j = this.client.job(id);
    return j !== undefined && j.receipt !== null && j.stdout !== null && j.stderr !== null && j.scored;
  }

  async close(): Promise<void> {
    this.client.stop();
    for (const n of this.providers) {
      await n.provider?.stop();
      n.engine.dispose();
      n.store.close();
    }
    this.clientStore.close();
    this.t.mock.timers.reset();
  }
}

async function withWorld(t: TestContext, o: WorldOptions, body: (w: World) => Promise<void>): Promise<void> {
  const w = await World.create(t, o);
  try {
    await body(w);
  } finally {
    await w.close();
  }
}

const REQUEST: JobRequest = {
  image: IMAGE_BYTES,
  argv: ['hello'],
  env: ['A=1'],
  cpuNano: 1e9,
  memoryBytes: 64 * MiB,
  timeoutMs: 10_000,
  maxOutputBytes: 4096,
};

function okId(o: SubmitOutcome): string {
  assert.ok(o.ok, `submit failed: ${o.ok ? '' : `${o.code}: ${o.reason}`}`);
  return o.id;
}

function receipt(j: { receipt: Uint8Array | null }): JobReceiptMessage {
  assert.ok(j.receipt !== null, 'no receipt');
  const r = receiptOf(j.receipt);
  assert.ok(r !== null, 'the receipt does not decode');
  return r;
}

/**
 * No receipt lost: every job the provider's book holds is final with a receipt that verifies and
 * matches the stored output; the client holds the same receipt and that output; no container of
 * this daemon is left; no job ran twice.
 */
function assertAllReceipted(w: World, n: ProviderNode, seedNote = ''): void {
  const jobs = n.store.book.providerJobs();
  for (const j of jobs) {
    const id = hex(j.id);
    const where = `job ${id.slice(0, 12)} ${seedNote}`;
    assert.ok(FINAL.has(j.state), `${where}: state ${j.state} is not final`);
    const r = receipt(j);
    assert.ok(verifyJobMessage(crypto.ed25519, NET, r), `${where}: receipt signature`);
    assert.ok(sameBytes(r.jobId, j.id) && sameBytes(r.provider, n.key), `${where}: receipt names the job and provider`);
    assert.equal(r.state, j.state, where);
    assert.ok(sameBytes(r.specHash, crypto.blake3.hash(j.submit)), `${where}: spec hash`);
    for (const s of ['stdout', 'stderr'] as const) {
      const out = n.store.book.output(j.id, s) ?? new Uint8Array(0);
      assert.ok(sameBytes(outputChain(crypto.blake3, j.id, s, out).root, s === 'stdout' ? r.stdoutHash : r.stderrHash), `${where}: ${s} hash`);
      assert.equal(out.length, s === 'stdout' ? r.stdoutBytes : r.stderrBytes, `${where}: ${s} size`);
    }
    const c = w.client.job(id);
    assert.ok(c !== undefined, `${where}: the client does not know it`);
    assert.ok(sameBytes(c.receipt, j.receipt), `${where}: the client holds another receipt (or none)`);
    assert.ok(sameBytes(c.stdout, n.store.book.output(j.id, 'stdout')), `${where}: client stdout`);
    assert.ok(sameBytes(c.stderr, n.store.book.output(j.id, 'stderr')), `${where}: client stderr`);
    assert.ok(n.engine.createdFor(id) <= 1, `${where}: ran ${n.engine.createdFor(id)} times`);
  }
  const left = n.engine.containers().filter((c) => c.daemonId === n.daemonId);
  assert.deepEqual(left, [], `containers left behind ${seedNote}`);
}

function signedSpec(w: World, over: Partial<JobSubmitMessage> = {}, signer: Ed25519Signer = w.clientSigner, networkId = NET): JobSubmitMessage {
  return signJobMessage(signer, networkId, {
    type: 'job-submit',
    provider: w.p.key,
    imageRef: 'id',
    image: IMAGE_BYTES,
    cpuNano: 1e9,
    memoryBytes: 64 * MiB,
    timeoutMs: 10_000,
    network: 'none',
    maxOutputBytes: 4096,
    argv: ['hello'],
    env: [],
    client: signer.publicKey,
    nonce: w.rng.bytes(16),
    signature: new Uint8Array(64),
    ...over,
  });
}

/** Sends a spec from `from` and returns the provider's answers to it. */
async function answersTo(w: World, m: JobSubmitMessage, from: Uint8Array = w.clientKey): Promise<JobMessage[]> {
  const before = w.net.delivered.length;
  w.net.send(from, w.p.key, m);
  await w.settle();
  const id = hex(computeJobId(crypto.blake3, m));
  return w.net.delivered
    .slice(before)
    .filter((d) => d.to === hex(from) && 'jobId' in d.m && hex(d.m.jobId) === id)
    .map((d) => d.m);
}

// ——— the fixture against the real host ———

/** Each program as a command for a real image and as the fixture's script. */
const CONTRACT_PROGRAMS: Readonly<Record<'talk' | 'sleep' | 'missing', { readonly real: string[]; readonly fake: ContainerScript | null }>> = {
  talk: { real: ['sh', '-c', 'printf out; printf err >&2; exit 3'], fake: { stdout: 'out', stderr: 'err', exitCode: 3, durationMs: 50 } },
  sleep: { real: ['sleep', '30'], fake: { durationMs: Infinity } },
  missing: { real: ['/no/such/program'], fake: null },
};

interface ContractHosts {
  readonly host: ContainerHost;
  /** Another daemon's client of the same engine. */
  readonly other: ContainerHost;
  readonly image: string;
  readonly argv: (p: keyof typeof CONTRACT_PROGRAMS) => string[];
  readonly cleanup: () => Promise<void>;
}

async function rejectsWith(p: Promise<unknown>, codes: readonly ContainerHostErrorCode[], what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ContainerHostError && codes.includes(e.code), `${what}: expected ${codes.join('|')}, got ${String(e)}`);
    return;
  }
  assert.fail(`${what}: resolved`);
}

/** The same observations over the fixture and, when there is one, the real engine (STYLE §2). */
function hostContract(name: string, skip: string | false, make: () => Promise<ContractHosts>): void {
  test(`container host contract (${name}): exit, output caps, list, conflict, timeout, owner kill, remove, gone, close`, { skip, timeout: 60_000 }, async () => {
    const h = await make();
    const spec = (p: keyof typeof CONTRACT_PROGRAMS, over: Partial<JobRunSpec> = {}): JobRunSpec => ({
      jobId: randomBytes(32).toString('hex'),
      imageId: h.image,
      argv: h.argv(p),
      env: {},
      nanoCpus: 5e8,
      memoryBytes: 64 * MiB,
      timeoutMs: 30_000,
      maxOutputBytes: 1024,
      network: false,
      ...over,
    });
    const str = (b: Buffer): string => b.toString('utf8');
    try {
      const talk = spec('talk');
      const a = await h.host.run(talk);
      assert.equal(a.jobId, talk.jobId);
      const w = await h.host.wait(a.containerId, 20_000);
      assert.deepEqual([w.state, w.exitCode, w.killReason], ['exited', 3, null]);
      assert.ok(w.startedAt > 0 && w.finishedAt >= w.startedAt);
      const capped = await h.host.logs(a.containerId, 'both', 2);
      assert.deepEqual([str(capped.stdout.bytes), capped.stdout.truncated, str(capped.stderr.bytes), capped.stderr.truncated], ['ou', true, 'er', true]);
      const out = await h.host.logs(a.containerId, 'stdout', 1024);
      assert.deepEqual([str(out.stdout.bytes), out.stdout.truncated, out.stderr.bytes.length], ['out', false, 0]);
      assert.deepEqual(
        (await h.host.listJobs()).filter((c) => c.containerId === a.containerId),
        [{ containerId: a.containerId, jobId: talk.jobId, state: 'exited' }],
      );
      assert.ok(!(await h.other.listJobs()).some((c) => c.containerId === a.containerId), 'another daemon does not see it');
      await rejectsWith(h.host.run(talk), ['conflict'], 'the same job twice');
      assert.equal(await h.host.kill(a.containerId), false, 'kill of an exited container');
      assert.equal(await h.host.remove(a.containerId), true);
      assert.equal(await h.host.remove(a.containerId), false);
      await rejectsWith(h.host.wait(a.containerId, 1_000), ['not-found'], 'wait on a removed container');
      await rejectsWith(h.host.logs(a.containerId, 'both', 10), ['not-found'], 'logs of a removed container');

      const b = await h.host.run(spec('sleep'));
      const wb = await h.host.wait(b.containerId, 300);
      assert.deepEqual([wb.state, wb.exitCode, wb.killReason], ['killed', 137, 'timeout']);
      assert.equal(await h.host.remove(b.containerId), true);

      const c = await h.host.run(spec('sleep'));
      const waiting = h.host.wait(c.containerId, 20_000);
      assert.equal(await h.host.kill(c.containerId), true);
      const wc = await waiting;
      assert.deepEqual([wc.state, wc.exitCode, wc.killReason], ['killed', 137, 'owner']);
      assert.equal(await h.host.kill(c.containerId), false);
      assert.equal(await h.host.remove(c.containerId), true);

      const m = spec('missing');
      await rejectsWith(h.host.run(m), ['engine-error', 'refused'], 'a program the image lacks');
      await rejectsWith(h.host.run(spec('talk', { imageId: `sha256:${'0'.repeat(64)}` })), ['not-found'], 'an image the engine lacks');
      await rejectsWith(h.host.run(spec('talk', { argv: [''] })), ['bad-spec'], 'an empty argv[0]');
      assert.deepEqual(await h.host.listJobs(), [], 'nothing left behind');
      h.host.close();
      await rejectsWith(h.host.listJobs(), ['closed'], 'a call after close');
    } finally {
      await h.cleanup();
    }
  });
}

describe('the recorded fixture answers as the real host does', () => {
  hostContract('fixture', false, async () => {
    const engine = new FakeEngine({ images: { [IMAGE]: IMAGE } });
    for (const [p, x] of Object.entries(CONTRACT_PROGRAMS)) if (x.fake !== null) engine.define(p, x.fake);
    return { host: engine.connect('a'), other: engine.connect('b'), image: IMAGE, argv: (p) => [p], cleanup: async () => engine.dispose() };
  });
  test('the real host never reports an end before the start (Podman stamps a quick exit so)', { timeout: 10_000 }, async () => {
    const stamps: Record<string, [string, string]> = {
      ['a'.repeat(64)]: ['2026-01-01T00:00:00.050Z', '2026-01-01T00:00:00.030Z'],
      ['b'.repeat(64)]: ['2026-01-01T00:00:00.050Z', '0001-01-01T00:00:00Z'],
      ['c'.repeat(64)]: ['2026-01-01T00:00:00.050Z', '2026-01-01T00:00:01.000Z'],
    };
    const server = createServer((req, res) => {
      const url = req.url ?? '';
      if (url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.41' }));
      if (url.includes('/stats')) return res.end();
      const m = /^\/v1\.41\/containers\/([0-9a-f]{64})\/json/.exec(url);
      const st = m === null ? undefined : stamps[m[1] as string];
      if (st === undefined) {
        res.statusCode = 404;
        return res.end('{}');
      }
      res.end(JSON.stringify({ State: { Status: 'exited', ExitCode: 0, StartedAt: st[0], FinishedAt: st[1], OOMKilled: false } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const h = new EngineContainerHost({ log: silentLogger() }, { endpoint: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`, daemonId: 't' });
    try {
      const start = Date.parse('2026-01-01T00:00:00.050Z');
      const got = await Promise.all(Object.keys(stamps).map((id) => h.wait(id, 5_000)));
      assert.deepEqual(
        got.map((w) => [w.startedAt, w.finishedAt]),
        [
          [start, start],
          [start, 0],
          [start, start + 950],
        ],
      );
    } finally {
      h.close();
      server.close();
    }
  });

  const target = findEngine();
  hostContract('real engine', target.ok ? false : target.why, async () => {
    assert.ok(target.ok);
    const id = `jobs-contract-${process.pid}-${Date.now()}`;
    const open = (daemonId: string): EngineContainerHost => new EngineContainerHost({ log: silentLogger() }, { endpoint: target.endpoint, daemonId });
    const host = open(id);
    const other = open(`${id}-other`);
    return {
      host,
      other,
      image: target.image,
      argv: (p) => CONTRACT_PROGRAMS[p].real,
      cleanup: async () => {
        const cleaner = open(id);
        for (const j of await cleaner.listJobs().catch(() => [])) await cleaner.remove(j.containerId).catch(() => false);
        for (const x of [cleaner, host, other]) x.close();
      },
    };
  });
});

// ——— the suite, over each store ———

for (const kind of ['memory', 'lmdb'] as const) {
  describe(`compute jobs in-process over ${kind}`, () => {
    test('admission: each refusal reason with its detail; nothing is kept or run', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        // Only the image the host has is offered ('missing:1' is not on it).
        assert.deepEqual(p.provider?.offer().images.map(hex), [IMAGE.slice(7)]);
        const viaClient: [Partial<JobRequest>, RefuseReason, RegExp][] = [
          [{ image: OTHER_IMAGE_BYTES }, 'image-not-allowed', /^image cdcdcdcdcdcdcdcd… is not offered here$/],
          [{ argv: [] }, 'other', /^argv is empty$/],
          [{ env: ['NOEQUALS'] }, 'other', /^env items must be NAME=value$/],
          [{ env: ['A=1', '1X=y'] }, 'other', /^env items must be NAME=value$/],
          [{ cpuNano: JOB_LIMITS.minNanoCpus - 1 }, 'limits', /^cpu must be at least 0\.01$/],
          [{ memoryBytes: JOB_LIMITS.minMemoryBytes - 1 }, 'limits', /^memory must be at least 6291456 bytes$/],
          [{ timeoutMs: 0 }, 'limits', /^timeout must be 1\.\.60000 ms$/],
          [{ timeoutMs: 60_001 }, 'limits', /^timeout must be 1\.\.60000 ms$/],
          [{ maxOutputBytes: 256 * 1024 + 1 }, 'limits', /^max output must be at most 262144 bytes$/],
          [{ cpuNano: 4e9 + 1 }, 'capacity', /^not enough free CPU or memory now$/],
          [{ memoryBytes: 2 * GiB + 1 }, 'capacity', /^not enough free CPU or memory now$/],
        ];
        for (const [over, reason, detail] of viaClient) {
          const o = await w.submit({ ...REQUEST, ...over, provider: p.key });
          assert.ok(!o.ok && o.code === 'refused', `${JSON.stringify(over)}: ${JSON.stringify(o)}`);
          assert.equal(o.refuse, reason, JSON.stringify(over));
          assert.match(o.reason.replace(`refused: ${reason}: `, ''), detail);
          const j = w.cjob(o.id as string);
          assert.equal(j.state, 'refused');
          assert.deepEqual(j.refused?.reason, reason);
        }

        // Specs the client would not make, sent as they arrive from a peer.
        const mallory = signerFor(99);
        w.net.route(mallory.publicKey, () => undefined);
        const crafted: [string, JobSubmitMessage, RefuseReason, RegExp][] = [
          ['another provider', signedSpec(w, { provider: signerFor(98).publicKey }), 'other', /^the spec names another provider$/],
          ['signed by another client than its sender', signedSpec(w, {}, mallory), 'bad-signature', /^the spec is signed for another client than its sender$/],
          ['with a network', signedSpec(w, { network: 'bridge' }), 'limits', /^jobs run without a network here$/],
          ['with a broken signature', ((): JobSubmitMessage => {
            const s = signedSpec(w);
            const sig = Uint8Array.from(s.signature);
            sig[10] = (sig[10] as number) ^ 0x01;
            return { ...s, signature: sig };
          })(), 'bad-signature', /^the spec signature does not verify$/],
          ['signed for another network', signedSpec(w, {}, w.clientSigner, NET + 1n), 'bad-signature', /^the spec signature does not verify$/],
        ];
        for (const [what, m, reason, detail] of crafted) {
          const got = await answersTo(w, m);
          assert.equal(got.length, 1, `${what}: ${JSON.stringify(got.map((x) => x.type))}`);
          const a = got[0] as JobMessage;
          assert.ok(a.type === 'job-refuse', `${what}: answered ${a.type}`);
          assert.equal(a.reason, reason, what);
          assert.match(a.detail, detail, what);
        }

        // Capacity exhausted: a job holding the whole CPU budget, then one more; freed when it ends.
        const big = okId(await w.submit({ ...REQUEST, argv: ['sleep'], cpuNano: 4e9, provider: p.key }));
        await w.until('the big job runs', () => w.pjob(p, big)?.state === 'running');
        assert.equal(p.provider?.offer().cpuNano, 0);
        const full = await w.submit({ ...REQUEST, cpuNano: JOB_LIMITS.minNanoCpus, provider: p.key });
        assert.ok(!full.ok && full.refuse === 'capacity' && /not enough free CPU/.test(full.reason), JSON.stringify(full));
        w.client.cancel(big);
        await w.until('the big job is cancelled', () => w.verified(big));
        assert.equal(w.cjob(big).killReason, 'owner');
        assert.equal(p.provider?.offer().cpuNano, 4e9);

        // Nothing kept or run for any refusal: the only jobs are the big one.
        assert.deepEqual(
          p.store.book.providerJobs().map((j) => hex(j.id)),
          [big],
        );
        assert.equal(p.engine.containers().length, 0);
        assert.equal(p.engine.calls.filter((c) => c.op === 'run').length, 1);

        // The limits themselves are admitted (and run).
        const edge = okId(await w.submit({ ...REQUEST, cpuNano: JOB_LIMITS.minNanoCpus, memoryBytes: JOB_LIMITS.minMemoryBytes, timeoutMs: 60_000, maxOutputBytes: 256 * 1024, provider: p.key }));
        await w.until('the job at the limits ends', () => w.verified(edge));
        assert.equal(Buffer.from(w.cjob(edge).stdout as Uint8Array).toString(), 'hello\n');
        assertAllReceipted(w, p);
      });
    });

    test('admission: more than 200 submissions in a second are refused (capacity) until tokens refill', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const provider = w.p.provider as JobProvider;
        const specs = Array.from({ length: 230 }, () => signedSpec(w, { image: OTHER_IMAGE_BYTES }));
        const before = w.net.delivered.length;
        for (const s of specs) provider.onSubmit(w.clientKey, s); // all in the same virtual ms
        await w.settle();
        const refusals = w.net.delivered.slice(before).flatMap((d) => (d.m.type === 'job-refuse' ? [d.m] : []));
        assert.equal(refusals.length, 230);
        const limited = refusals.filter((r) => r.reason === 'capacity');
        assert.ok(limited.length >= 30, `rate-limited ${limited.length}`);
        for (const r of limited) assert.equal(r.detail, 'too many submissions; try again');
        assert.ok(refusals.filter((r) => r.reason === 'image-not-allowed').length <= 200);
        await w.advance(1_000);
        const id = okId(await w.submit({ ...REQUEST, provider: w.p.key }));
        await w.until('the job after the refill ends', () => w.verified(id));
      });
    });

    test('a duplicate submission is answered idempotently and runs once; another sender’s copy is ignored', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        p.engine.define('slow', { stdout: 'x'.repeat(3000), durationMs: 2_000 });
        const s = signedSpec(w, { argv: ['slow'] });
        const id = hex(computeJobId(crypto.blake3, s));
        const first = await answersTo(w, s);
        assert.deepEqual(
          first.map((m) => m.type),
          ['job-accept', 'job-status'],
        );
        const again = await answersTo(w, s);
        assert.deepEqual(
          again.map((m) => (m.type === 'job-status' ? `status:${m.state}` : m.type)),
          ['status:running'],
        );
        const mallory = signerFor(99);
        const seen: JobMessage[] = [];
        w.net.route(mallory.publicKey, (_f, m) => seen.push(m));
        assert.deepEqual(await answersTo(w, s, mallory.publicKey), []);
        await w.advance(2_500);
        const late = await answersTo(w, s);
        assert.deepEqual(
          late.map((m) => (m.type === 'job-status' ? `status:${m.state}` : m.type)),
          ['status:exited', 'job-receipt'],
        );
        assert.equal(p.engine.createdFor(id), 1);
        assert.equal(p.provider?.counters.accepted, 1);
        assert.equal(p.provider?.counters.finished, 1);
        assert.equal(seen.length, 0);
        assert.equal(p.store.book.providerJobs().length, 1);
      });
    });

    for (const seed of [1, 2, 3]) {
      test(`happy path, seed ${seed}: lossy, duplicating, reordering network; multi-chunk output verified at the client`, async (t) => {
        await withWorld(t, { store: kind, seed, drop: 0.2, dup: 0.1, reorder: true }, async (w) => {
          const p = w.p;
          const stdout = w.rng.bytes(100_000 + seed);
          const stderr = w.rng.bytes(3_000);
          p.engine.define('big', { stdout, stderr, exitCode: 3, durationMs: 1_500, usage: { cpuNanos: 1.2e9, peakMemoryBytes: 10 * MiB } });
          await w.until('the offer arrives', () => w.client.offerList().length === 1);
          const id = okId(await w.submit({ ...REQUEST, argv: ['big', '--n', '1'], maxOutputBytes: 200_000 }));
          await w.until('the output is verified', () => w.verified(id));
          const c = w.cjob(id);
          assert.ok(sameBytes(c.stdout, stdout), `stdout differs (seed ${seed})`);
          assert.ok(sameBytes(c.stderr, stderr), `stderr differs (seed ${seed})`);
          assert.equal(c.state, 'exited');
          assert.equal(c.exitCode, 3);
          const r = receipt(c);
          assert.ok(verifyJobMessage(crypto.ed25519, NET, r));
          assert.equal(r.stdoutBytes, stdout.length);
          assert.equal(r.stderrBytes, stderr.length);
          assert.equal(r.cpuMillis, 1_200);
          assert.equal(r.peakMemoryBytes, 10 * MiB);
          assert.equal(r.end - r.start, 1_500);
          assertAllReceipted(w, p, `(seed ${seed})`);
          // It ran once however often the spec travelled; faults did happen.
          assert.equal(p.engine.createdFor(id), 1);
          assert.ok(w.net.stats.dropped > 0 && w.net.stats.duplicated > 0, JSON.stringify(w.net.stats));
          // Output came in many chunks, some out of order.
          const chunks = w.net.delivered.flatMap((d) => (d.m.type === 'job-output' && d.m.stream === 'stdout' ? [d.m.index] : []));
          assert.equal(Math.max(...chunks) + 1, Math.ceil(stdout.length / 1024));
          assert.ok(chunks.some((x, i) => i > 0 && x < (chunks[i - 1] as number)), 'no chunk arrived out of order');
          // Trust: completed, weighted by CPU- and GiB-seconds.
          const trust = w.clientStore.book.trust(p.key);
          assert.equal(trust?.completed, 1);
          assert.ok(Math.abs((trust?.score ?? 0) - (1 + 1.2 + (64 / 1024) * 1.5)) < 1e-9, `score ${trust?.score}`);
          assert.equal(w.client.counters.verified, 1);
          assert.equal(w.client.counters.unverifiable, 0);
        });
      });
    }

    test('lifecycle ends: killed (timeout, oom, owner) and failed (run, wait, engine down, unknown program), each with a receipt', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        const e = p.engine;
        e.define('hog', { stdout: 'eating\n', oomAfterMs: 300, durationMs: 5_000 });
        e.define('hog-v1', { oomAfterMs: 300, oomReported: false, durationMs: 5_000 });
        e.define('exit137', { exitCode: 137, durationMs: 100 });
        const run = async (over: Partial<JobRequest>, before?: () => void): Promise<ClientJob> => {
          before?.();
          const id = okId(await w.submit({ ...REQUEST, provider: p.key, ...over }));
          await w.until(`job ${JSON.stringify(over)} ends`, () => w.verified(id));
          return w.cjob(id);
        };
        const timeout = await run({ argv: ['sleep'], timeoutMs: 2_000 });
        assert.deepEqual([timeout.state, timeout.killReason, timeout.exitCode], ['killed', 'timeout', 137]);
        const tr = receipt(timeout);
        assert.equal(tr.end - tr.start, 2_000);
        const oom = await run({ argv: ['hog'] });
        assert.deepEqual([oom.state, oom.killReason], ['killed', 'oom']);
        assert.equal(Buffer.from(oom.stdout as Uint8Array).toString(), 'eating\n');
        const oomV1 = await run({ argv: ['hog-v1'] });
        assert.deepEqual([oomV1.state, oomV1.killReason], ['killed', 'oom']);
        // The real host cannot tell a job's own exit 137 from the kernel's kill: reported as oom.
        const own137 = await run({ argv: ['exit137'] });
        assert.deepEqual([own137.state, own137.killReason], ['killed', 'oom']);

        const cancelId = okId(await w.submit({ ...REQUEST, argv: ['sleep'], provider: p.key }));
        await w.until('running', () => w.cjob(cancelId).state === 'running');
        await w.advance(500);
        w.client.cancel(cancelId);
        await w.until('cancelled', () => w.verified(cancelId));
        assert.deepEqual([w.cjob(cancelId).state, w.cjob(cancelId).killReason], ['killed', 'owner']);

        // A cancel that arrives while the container is still being made kills it once it exists.
        e.define('slow-start', { durationMs: 60_000, runDelayMs: 800 });
        const early = okId(await w.submit({ ...REQUEST, argv: ['slow-start'], provider: p.key }));
        w.client.cancel(early);
        await w.until('cancelled before it ran', () => w.verified(early));
        assert.deepEqual([w.cjob(early).state, w.cjob(early).killReason], ['killed', 'owner']);

        const killedScore = w.clientStore.book.trust(p.key)?.score ?? 0;
        assert.equal(killedScore, 0, 'kills the spec asked for are neutral');

        const runFails = await run({}, () => e.failNext('run', 'engine-error'));
        const waitFails = await run({ argv: ['sleep'] }, () => e.failNext('wait', 'timeout'));
        const unknown = await run({ argv: ['no-such-program'] });
        const badArg = await run({ argv: [''] }); // admitted (argv not empty), refused by the host's spec check
        e.reachable = false;
        const downId = okId(await w.submit({ ...REQUEST, provider: p.key }));
        await w.until('failed while the engine is down', () => w.verified(downId));
        e.reachable = true;
        for (const [what, j, why] of [
          ['run', runFails, /^the container did not start: run: injected engine-error$/],
          ['wait', waitFails, /^waiting for the container failed: wait: injected timeout$/],
          ['unknown program', unknown, /^the container did not start: no-such-program: executable file not found/],
          ['empty argv[0]', badArg, /^the container did not start: job spec: argv\[0\] must not be empty$/],
          ['engine down', w.cjob(downId), /^the container did not start: run: engine unreachable$/],
        ] as const) {
          assert.equal(j.state, 'failed', what);
          assert.equal(j.exitCode, -1, what);
          assert.match(w.pjob(p, hex(j.id))?.failure ?? '', why, what);
          assert.equal(receipt(j).state, 'failed', what);
        }
        // The container whose wait failed was removed; nothing else was ever created for the failures.
        assert.equal(e.createdFor(hex(waitFails.id)), 1);
        assert.equal(e.createdFor(hex(runFails.id)) + e.createdFor(hex(unknown.id)) + e.createdFor(downId), 0);
        const trust = w.clientStore.book.trust(p.key);
        assert.equal(trust?.failed, 5);
        assert.ok(Math.abs((trust?.score ?? 0) - 5 * TRUST_PARAMS.failed) < 1e-6, `score ${trust?.score}`);
        assert.equal(e.pendingFailures(), 0);
        assertAllReceipted(w, p);
        assert.equal(p.provider?.offer().cpuNano, 4e9, 'every reservation released');
      });
    });

    // ——— lying providers ———

    /** Two providers: p0 cheap (picked first at equal trust) and lying as `tamper` says, p1 honest. */
    async function liarWorld(t: TestContext, tamper: (liar: ProviderNode, m: JobMessage) => JobMessage, body: (w: World, liar: ProviderNode, honest: ProviderNode) => Promise<void>): Promise<void> {
      await withWorld(t, { store: kind, providers: [{ pricePerCpuSecond: 0, pricePerGiBSecond: 0 }, { pricePerCpuSecond: 0, pricePerGiBSecond: 1 }] }, async (w) => {
        const [liar, honest] = w.providers as [ProviderNode, ProviderNode];
        for (const n of w.providers) n.engine.define('big', { stdout: new SeededRng(7).bytes(5_000), stderr: 'warn\n', durationMs: 200 });
        w.net.tamper = (from, _to, m) => (from === hex(liar.key) ? tamper(liar, m) : m);
        await w.until('both offers arrive', () => w.client.offerList().length === 2);
        await body(w, liar, honest);
      });
    }

    async function caught(w: World, liar: ProviderNode, honest: ProviderNode, expectReceipt: boolean): Promise<void> {
      const r: JobRequest = { ...REQUEST, argv: ['big'], maxOutputBytes: 8_000 };
      assert.ok(sameBytes(w.client.pick(r)?.provider, liar.key), 'the cheaper provider is picked at equal trust');
      const id = okId(await w.submit(r));
      assert.ok(sameBytes(w.cjob(id).provider, liar.key));
      await w.until('the lie is scored', () => w.cjob(id).scored);
      await w.advance(5_000); // more answers from the liar change nothing
      const j = w.cjob(id);
      assert.equal(j.stdout, null, 'no output accepted from the liar');
      assert.equal(j.receipt !== null, expectReceipt);
      assert.equal(w.client.counters.unverifiable, 1);
      assert.equal(w.client.counters.verified, 0);
      const trust = w.clientStore.book.trust(liar.key);
      assert.ok(trust !== undefined && currentScore(trust, Date.now()) < 0, `liar score ${trust?.score}`);
      assert.equal(trust.score, TRUST_PARAMS.unverifiable);
      // The next job goes to the honest provider, and verifies.
      assert.ok(sameBytes(w.client.pick(r)?.provider, honest.key), 'the honest provider is picked after the lie');
      const next = okId(await w.submit(r));
      await w.until('the honest job verifies', () => w.verified(next));
      assert.ok(sameBytes(w.cjob(next).provider, honest.key));
      assert.equal(w.clientStore.book.trust(honest.key)?.completed, 1);
    }

    test('a receipt changed in flight (signature no longer verifies) is caught; the liar’s trust drops', async (t) => {
      await liarWorld(
        t,
        (_l, m) => (m.type === 'job-receipt' ? { ...m, exitCode: m.exitCode + 1 } : m),
        async (w, liar, honest) => caught(w, liar, honest, false),
      );
    });

    test('a validly signed receipt for other output is caught by the chunk chain; the liar’s trust drops', async (t) => {
      await liarWorld(
        t,
        (l, m) => (m.type === 'job-receipt' ? signJobMessage(l.signer, NET, { ...m, stdoutHash: crypto.blake3.hash(Uint8Array.of(1)) }) : m),
        async (w, liar, honest) => caught(w, liar, honest, true),
      );
    });

    test('a validly signed receipt for another spec is caught', async (t) => {
      await liarWorld(
        t,
        (l, m) => (m.type === 'job-receipt' ? signJobMessage(l.signer, NET, { ...m, specHash: crypto.blake3.hash(m.specHash) }) : m),
        async (w, liar, honest) => caught(w, liar, honest, false),
      );
    });

    test('a tampered output chunk is caught; the liar’s trust drops', async (t) => {
      await liarWorld(
        t,
        (_l, m) => {
          if (m.type !== 'job-output' || m.stream !== 'stdout' || m.index !== 2) return m;
          const data = Uint8Array.from(m.data);
          data[17] = (data[17] as number) ^ 0x40;
          return { ...m, data };
        },
        async (w, liar, honest) => caught(w, liar, honest, true),
      );
    });

    test('a validly signed receipt whose sizes do not match its output is caught', async (t) => {
      await liarWorld(
        t,
        (l, m) => (m.type === 'job-receipt' ? signJobMessage(l.signer, NET, { ...m, stdoutBytes: m.stdoutBytes + 1 }) : m),
        async (w, liar, honest) => caught(w, liar, honest, true),
      );
    });

    test('credit for a completed job is bounded by the spec, whatever usage the receipt claims', async (t) => {
      await liarWorld(
        t,
        (l, m) => (m.type === 'job-receipt' ? signJobMessage(l.signer, NET, { ...m, cpuMillis: 1e12, end: m.start + 1e12 }) : m),
        async (w, liar) => {
          const id = okId(await w.submit({ ...REQUEST, argv: ['big'], maxOutputBytes: 8_000, provider: liar.key }));
          await w.until('verified', () => w.verified(id));
          const score = w.clientStore.book.trust(liar.key)?.score ?? 0;
          const most = 1 + 1 * 10 + (64 / 1024) * 10; // 1 CPU and 64 MiB for the whole 10 s timeout
          assert.ok(score > 1 && score <= most, `credit ${score} for one 10-second job`);
        },
      );
    });

    test('a usage read that fails at the end does not lose the output', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        p.engine.define('talk', { stdout: 'kept\n', stderr: 'also kept\n', durationMs: 300 });
        p.engine.failNext('stats', 'timeout');
        const id = okId(await w.submit({ ...REQUEST, argv: ['talk'], provider: p.key }));
        await w.until('verified', () => w.verified(id));
        assert.equal(p.engine.pendingFailures(), 0);
        assert.equal(Buffer.from(w.cjob(id).stdout as Uint8Array).toString(), 'kept\n');
        assert.equal(Buffer.from(w.cjob(id).stderr as Uint8Array).toString(), 'also kept\n');
        assertAllReceipted(w, p);
      });
    });

    test('output that cannot be read at the end fails the job with a receipt instead of signing empty output', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        p.engine.define('talk', { stdout: 'lost\n', durationMs: 300 });
        p.engine.failNext('logs', 'timeout');
        const id = okId(await w.submit({ ...REQUEST, argv: ['talk'], provider: p.key }));
        await w.until('receipted', () => w.cjob(id).receipt !== null);
        assert.equal(w.cjob(id).state, 'failed');
        assertAllReceipted(w, p);
      });
    });

    test('spot checks: the same spec re-run on another provider; equal results match, different ones dispute both', async (t) => {
      await withWorld(t, { store: kind, providers: [{}, {}] }, async (w) => {
        const [a, b] = w.providers as [ProviderNode, ProviderNode];
        for (const n of w.providers) n.engine.define('calc', { stdout: '42\n', durationMs: 200 });
        a.engine.define('flaky', { stdout: 'yes\n', durationMs: 200 });
        b.engine.define('flaky', { stdout: 'no\n', durationMs: 200 });
        await w.until('both offers arrive', () => w.client.offerList().length === 2);
        const run = async (argv: string[]): Promise<[ClientJob, ClientJob]> => {
          const id = okId(await w.submit({ ...REQUEST, argv, provider: a.key, spotCheck: true }));
          await w.until('the spot check is compared', () => w.cjob(id).spotMatch !== null);
          const orig = w.cjob(id);
          const spot = w.cjob(hex(orig.spotCheck as Uint8Array));
          assert.ok(sameBytes(spot.provider, b.key), 'the spot check runs on the other provider');
          assert.ok(sameBytes(spot.spotOf, orig.id));
          return [orig, spot];
        };
        const [o1, s1] = await run(['calc']);
        assert.deepEqual([o1.spotMatch, s1.spotMatch], [true, true]);
        assert.equal(w.client.counters.disputes, 0);
        const [o2, s2] = await run(['flaky']);
        assert.deepEqual([o2.spotMatch, s2.spotMatch], [false, false]);
        assert.equal(w.client.counters.disputes, 1);
        assert.equal(w.client.counters.spotChecks, 2);
        for (const n of [a, b]) {
          const tr = w.clientStore.book.trust(n.key);
          assert.equal(tr?.disputed, 1);
          assert.equal(tr?.completed, 2);
        }
      });
    });

    test('a create whose answer was lost: the job fails with a receipt and the container the engine made is removed', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        p.engine.failNext('run', 'timeout', { afterEffect: true });
        const id = okId(await w.submit({ ...REQUEST, argv: ['sleep'], provider: p.key }));
        await w.until('failed at the client', () => w.verified(id));
        assert.equal(w.cjob(id).state, 'failed');
        assert.deepEqual(p.engine.containers(), [], 'the container the engine did make is gone');
        await w.crash(p);
        await w.startProvider(p);
        assert.deepEqual(p.engine.containers(), []);
        assertAllReceipted(w, p);
      });
    });

    test('restart: duplicate job labels do not hide a container from reconciliation', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        await w.crash(p);
        const unknown = 'ee'.repeat(32);
        p.engine.plant({ jobId: unknown, daemonId: p.daemonId });
        p.engine.plant({ jobId: unknown, daemonId: p.daemonId, state: 'exited' });
        p.engine.plant({ jobId: '', daemonId: p.daemonId });
        p.engine.plant({ jobId: '', daemonId: p.daemonId });
        await w.startProvider(p);
        assert.equal(p.provider?.counters.orphansRemoved, 4);
        assert.deepEqual(p.engine.containers(), []);
      });
    });

    // ——— restart reconciliation ———

    test('restart (a): a job accepted but never started fails with a receipt; (a′) one whose container appeared is adopted', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        p.engine.define('slowstart', { runDelayMs: 5_000, stdout: 'never\n' });
        const a = okId(await w.submit({ ...REQUEST, argv: ['slowstart'], provider: p.key }));
        const a2 = okId(await w.submit({ ...REQUEST, argv: ['slowstart', '2'], provider: p.key }));
        await w.advance(1_000);
        assert.equal(w.pjob(p, a)?.state, 'accepted');
        await w.crash(p);
        assert.equal(p.engine.createdFor(a), 0, 'the create was abandoned with the provider');
        // The engine finished creating a2's container after all (the request had gone out).
        p.engine.plant({ jobId: a2, daemonId: p.daemonId, script: { stdout: 'made it\n', durationMs: 1_000 } });
        await w.advance(3_000);
        await w.startProvider(p);
        assert.equal(p.provider?.counters.adopted, 1);
        await w.until('both end at the client', () => w.verified(a) && w.verified(a2));
        assert.equal(w.cjob(a).state, 'failed');
        assert.match(w.pjob(p, a)?.failure ?? '', /restarted before the job started/);
        assert.equal(w.cjob(a2).state, 'exited');
        assert.equal(Buffer.from(w.cjob(a2).stdout as Uint8Array).toString(), 'made it\n');
        assertAllReceipted(w, p);
      });
    });

    test('restart (b): a container still running is adopted and finished, with the timeout it had left', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        p.engine.define('seven', { stdout: 'slept 7\n', durationMs: 7_000 });
        const sleeper = okId(await w.submit({ ...REQUEST, argv: ['sleep'], timeoutMs: 10_000, provider: p.key }));
        const seven = okId(await w.submit({ ...REQUEST, argv: ['seven'], timeoutMs: 10_000, provider: p.key }));
        await w.until('both run', () => w.pjob(p, sleeper)?.state === 'running' && w.pjob(p, seven)?.state === 'running');
        const started = w.pjob(p, sleeper)?.startedAt as number;
        await w.advance(3_000);
        await w.crash(p);
        await w.advance(2_000);
        await w.startProvider(p);
        const restartedAt = Date.now();
        assert.equal(p.provider?.counters.adopted, 2);
        assert.equal(p.provider?.runningCount, 2);
        assert.equal(p.provider?.offer().cpuNano, 2e9, 'adopted jobs hold their reservation');
        await w.until('both end at the client', () => w.verified(sleeper) && w.verified(seven), 20_000);
        const r = receipt(w.cjob(sleeper));
        assert.deepEqual([r.state, r.killReason], ['killed', 'timeout']);
        assert.equal(r.start, started);
        assert.equal(r.end - r.start, 10_000, 'killed when its own timeout ran out, not a fresh one');
        assert.equal(r.end - restartedAt, 10_000 - (restartedAt - started));
        const s = receipt(w.cjob(seven));
        assert.deepEqual([s.state, s.exitCode, s.end - s.start], ['exited', 0, 7_000]);
        assert.equal(Buffer.from(w.cjob(seven).stdout as Uint8Array).toString(), 'slept 7\n');
        assertAllReceipted(w, p);
      });
    });

    test('restart (c): a container that exited while the provider was down is finished with its output', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        const out = w.rng.bytes(40_000);
        p.engine.define('short', { stdout: out, stderr: 'bye\n', exitCode: 5, durationMs: 2_000 });
        const id = okId(await w.submit({ ...REQUEST, argv: ['short'], maxOutputBytes: 64 * 1024, provider: p.key }));
        await w.until('running', () => w.pjob(p, id)?.state === 'running');
        await w.advance(500);
        await w.crash(p);
        await w.advance(5_000);
        assert.equal(p.engine.containers()[0]?.state, 'exited');
        await w.startProvider(p);
        await w.until('verified', () => w.verified(id));
        const r = receipt(w.cjob(id));
        assert.deepEqual([r.state, r.exitCode, r.end - r.start], ['exited', 5, 2_000]);
        assert.ok(sameBytes(w.cjob(id).stdout, out));
        assert.equal(w.clientStore.book.trust(p.key)?.completed, 1);
        assertAllReceipted(w, p);
      });
    });

    test('restart (d): a job whose container is gone fails with a receipt', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        const id = okId(await w.submit({ ...REQUEST, argv: ['sleep'], provider: p.key }));
        await w.until('running', () => w.pjob(p, id)?.state === 'running');
        await w.crash(p);
        const cid = w.pjob(p, id)?.containerId as string;
        assert.ok(p.engine.removeBehindBack(cid));
        await w.startProvider(p);
        await w.until('ended', () => w.verified(id));
        assert.equal(w.cjob(id).state, 'failed');
        assert.match(w.pjob(p, id)?.failure ?? '', /lost while the provider was down/);
        assert.equal(w.clientStore.book.trust(p.key)?.failed, 1);
        assertAllReceipted(w, p);
      });
    });

    test('restart (e): containers of unknown and of finished jobs are removed; another daemon’s are not', async (t) => {
      await withWorld(t, { store: kind }, async (w) => {
        const p = w.p;
        // A finished job whose container survived: removal failed once at the end.
        p.engine.failNext('remove', 'unreachable');
        const done = okId(await w.submit({ ...REQUEST, provider: p.key }));
        await w.until('verified', () => w.verified(done));
        assert.equal(p.engine.containers().length, 1, 'the finished job’s container is still there');
        await w.crash(p);
        p.engine.plant({ jobId: 'ee'.repeat(32), daemonId: p.daemonId });
        p.engine.plant({ jobId: 'ef'.repeat(32), daemonId: p.daemonId, state: 'exited' });
        p.engine.plant({ jobId: '', daemonId: p.daemonId, state: 'created' });
        const foreign = p.engine.plant({ jobId: 'ee'.repeat(32), daemonId: 'another-daemon' });
        const receiptBefore = w.pjob(p, done)?.receipt;
        await w.startProvider(p);
        assert.equal(p.provider?.counters.orphansRemoved, 3);
        assert.deepEqual(
          p.engine.containers().map((c) => c.containerId),
          [foreign],
        );
        assert.ok(sameBytes(w.pjob(p, done)?.receipt, receiptBefore), 'the finished job is untouched');
        assertAllReceipted(w, p);
      });
    });

    test('crashes at seeded points: every job ends with a receipt at the client, nothing runs twice, no container is left', async (t) => {
      for (const seed of [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]) {
        await withWorld(t, { store: kind, seed, drop: 0.05, dup: 0.05, reorder: true }, async (w) => {
          const p = w.p;
          const rng = new SeededRng(seed * 7919);
          const ids: string[] = [];
          for (let i = 0; i < 6; i++) {
            const script: ContainerScript = {
              stdout: rng.bytes(rng.int(4_000)),
              stderr: rng.bytes(rng.int(300)),
              exitCode: rng.int(3),
              durationMs: rng.chance(0.2) ? Infinity : 200 + rng.int(8_000),
              ...(rng.chance(0.15) ? { oomAfterMs: rng.int(3_000) } : {}),
              ...(rng.chance(0.2) ? { runDelayMs: 200 + rng.int(3_000) } : {}),
            };
            p.engine.define(`job${i}`, script);
            ids.push(okId(await w.submit({ ...REQUEST, argv: [`job${i}`], cpuNano: 5e8, timeoutMs: 2_000 + rng.int(10_000), provider: p.key })));
          }
          await w.advance(rng.int(4_000));
          await w.crash(p);
          for (const c of p.engine.containers()) if (rng.chance(0.3)) p.engine.removeBehindBack(c.containerId);
          if (rng.chance(0.5)) p.engine.plant({ jobId: hex(rng.bytes(32)), daemonId: p.daemonId });
          await w.advance(rng.int(8_000));
          await w.startProvider(p);
          await w.until(`every job ends (seed ${seed})`, () => ids.every((id) => w.verified(id)), 40_000);
          assert.equal(p.store.book.providerJobs().length, ids.length, `seed ${seed}`);
          assertAllReceipted(w, p, `(seed ${seed})`);
        });
      }
    });
  });
}
