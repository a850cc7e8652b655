/**
 * The control API server over a fake backend: authentication (401, constant-time compare), 400
 * with a reason for malformed JSON / hex / blocks and nothing submitted, 404/405/413, long polls,
 * and the Prometheus text of /metrics.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiServer, authorised, type ApiBackend, type BlockAnswer, type SubmitResult } from '../daemon/api.js';
import { silentLogger } from '../daemon/log.js';
import { NodeMetrics, renderMetrics } from '../daemon/metrics.js';
import { encodeSignedBlock, type SignedBlock } from '../wire/block.js';
import { FrameEndpoint } from '../daemon/frame-endpoint.js';
import { connect } from 'node:net';

const TOKEN = 'cd'.repeat(32);
const ID = 'ee'.repeat(32);

class FakeBackend implements ApiBackend {
  submitted: SignedBlock[] = [];
  statusOf = 'pending';
  private readonly ls = new Set<() => void>();
  status(): Record<string, unknown> {
    return { version: 'x', mempool: this.submitted.length };
  }
  peerList(): readonly Record<string, unknown>[] {
    return [];
  }
  submit(signed: SignedBlock): SubmitResult {
    this.submitted.push(signed);
    return { ok: true, id: ID, status: 'pending' };
  }
  block(id: Uint8Array): BlockAnswer {
    return { id: Buffer.from(id).toString('hex'), status: this.statusOf };
  }
  token(): Record<string, unknown> | undefined {
    return undefined;
  }
  hosts(token: Uint8Array): boolean {
    return token[0] === 0xab;
  }
  history(token: Uint8Array): Record<string, unknown> {
    return { token: Buffer.from(token).toString('hex'), history: [] };
  }
  async networkToken(token: Uint8Array): Promise<Record<string, unknown>> {
    return { token: Buffer.from(token).toString('hex'), answers: [], referrals: [] };
  }
  evidenceView(token: Uint8Array | undefined): Record<string, unknown> {
    return { statements: 0, ...(token === undefined ? {} : { token: Buffer.from(token).toString('hex') }) };
  }
  evidenceProof(id: string): Record<string, unknown> | undefined {
    return id.startsWith('abcd') ? { id: 'abcd'.repeat(16) } : undefined;
  }
  evidenceBundle(): Record<string, unknown> {
    return { file: '' };
  }
  bans(): Record<string, unknown> {
    return { bans: [] };
  }
  submitProof(): { ok: false; reason: string } {
    return { ok: false, reason: 'not a proof' };
  }
  async metricsText(): Promise<string> {
    return '# fake\n';
  }
  onChange(l: () => void): () => void {
    this.ls.add(l);
    return () => this.ls.delete(l);
  }
  change(): void {
    for (const l of [...this.ls]) l();
  }
  get listeners(): number {
    return this.ls.size;
  }
}

const backend = new FakeBackend();
const server = new ApiServer(backend, silentLogger(), { listen: { host: '127.0.0.1', port: 0 }, token: TOKEN });

before(async () => {
  await server.start();
});
after(async () => {
  await server.stop();
});

async function call(path: string, init: RequestInit & { auth?: string | null } = {}): Promise<{ status: number; body: Record<string, unknown> | string }> {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
  if (init.auth !== null) headers['authorization'] = init.auth ?? `Bearer ${TOKEN}`;
  const r = await fetch(`${server.url}${path}`, { ...init, headers });
  const text = await r.text();
  try {
    return { status: r.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: r.status, body: text };
  }
}

const creation: SignedBlock = {
  block: { version: 1, time: Date.now(), entries: [{ token: new Uint8Array(32).fill(1), last: new Uint8Array(32), nextKeyHash: new Uint8Array(32).fill(2) }] },
  signatures: [],
};

test('constant-time token check', () => {
  assert.equal(authorised(`Bearer ${TOKEN}`, TOKEN), true);
  assert.equal(authorised(`Bearer ${TOKEN.slice(1)}`, TOKEN), false);
  assert.equal(authorised(undefined, TOKEN), false);
  assert.equal(authorised(TOKEN, TOKEN), false);
  // The scheme is case-insensitive (RFC 7235); the token is not.
  assert.equal(authorised(`bearer ${TOKEN}`, TOKEN), true);
  assert.equal(authorised(`BEARER ${TOKEN}`, TOKEN), true);
  assert.equal(authorised(`Bearer ${TOKEN.toUpperCase()}`, TOKEN), false);
  assert.equal(authorised(`Basic ${TOKEN}`, TOKEN), false);
});

test('401 without or with a wrong token, on every route including /metrics, and nothing changes', async () => {
  for (const path of ['/v1/status', '/v1/peers', `/v1/blocks/${ID}`, '/metrics', '/nope']) {
    const a = await call(path, { auth: null });
    assert.equal(a.status, 401, path);
    assert.deepEqual((a.body as Record<string, unknown>)['error'], 'unauthorized');
    const b = await call(path, { auth: `Bearer ${'00'.repeat(32)}` });
    assert.equal(b.status, 401, path);
  }
  const p = await call('/v1/blocks', { method: 'POST', auth: 'Bearer wrong', body: JSON.stringify({ block: Buffer.from(encodeSignedBlock(creation)).toString('hex') }) });
  assert.equal(p.status, 401);
  assert.equal(backend.submitted.length, 0);
});

test('400 with a reason for malformed JSON, hex and blocks; nothing submitted', async () => {
  const cases: [string, string][] = [
    ['{not json', 'json'],
    ['[1,2]', 'json'],
    ['{"block": 5}', 'hex'],
    ['{"block": "abc"}', 'hex'],
    ['{"block": "zz"}', 'hex'],
    ['{"block": "0102"}', 'short'],
    [JSON.stringify({ block: `${Buffer.from(encodeSignedBlock(creation)).toString('hex')}00` }), 'long'],
  ];
  for (const [body, code] of cases) {
    const r = await call('/v1/blocks', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400, body);
    const o = r.body as Record<string, unknown>;
    assert.equal(o['error'], 'malformed');
    assert.equal(o['code'], code, body);
    assert.equal(typeof o['reason'], 'string');
  }
  assert.equal(backend.submitted.length, 0);
  const ok = await call('/v1/blocks', { method: 'POST', body: JSON.stringify({ block: Buffer.from(encodeSignedBlock(creation)).toString('hex') }) });
  assert.equal(ok.status, 202);
  assert.deepEqual(ok.body, { id: ID, status: 'pending' });
  assert.equal(backend.submitted.length, 1);
});

test('404, 405, 413 and bad ids', async () => {
  assert.equal((await call('/v2/status')).status, 404);
  assert.equal((await call('/v1/status', { method: 'POST', body: '{}' })).status, 405);
  assert.equal((await call('/v1/blocks/xyz')).status, 400);
  const missing = await call(`/v1/tokens/${ID}`);
  assert.equal(missing.status, 404);
  assert.equal((missing.body as Record<string, unknown>)['hosted'], false);
  assert.equal(((await call(`/v1/tokens/${'ab'.repeat(32)}`)).body as Record<string, unknown>)['hosted'], true, 'a missing mapping says whether the daemon hosts the token');
  assert.equal((await call(`/v1/blocks/${ID}?waitMs=-1`)).status, 400);
  const big = await call('/v1/blocks', { method: 'POST', body: JSON.stringify({ block: 'ab'.repeat(40_000) }) });
  assert.equal(big.status, 413);
});

test('?waitMs holds until the status is terminal', async () => {
  backend.statusOf = 'pending';
  const t0 = Date.now();
  const p = call(`/v1/blocks/${ID}?waitMs=5000`);
  setTimeout(() => {
    backend.statusOf = 'committed';
    backend.change();
  }, 200);
  const r = await p;
  assert.equal((r.body as Record<string, unknown>)['status'], 'committed');
  const took = Date.now() - t0;
  assert.ok(took >= 150 && took < 3000, `held ${took} ms`);
  backend.statusOf = 'pending';
  const t1 = Date.now();
  const r2 = await call(`/v1/blocks/${ID}?waitMs=300`);
  assert.equal((r2.body as Record<string, unknown>)['status'], 'pending');
  assert.ok(Date.now() - t1 >= 250);
});

test('POST /v1/blocks?waitMs submits at once and holds the answer until the status is terminal', async () => {
  backend.statusOf = 'pending';
  const n = backend.submitted.length;
  const body = JSON.stringify({ block: Buffer.from(encodeSignedBlock(creation)).toString('hex') });
  const bad = await call('/v1/blocks?waitMs=soon', { method: 'POST', body });
  assert.equal(bad.status, 400);
  assert.equal(backend.submitted.length, n, 'a malformed waitMs submits nothing');
  const t0 = Date.now();
  const p = call('/v1/blocks?waitMs=5000', { method: 'POST', body });
  setTimeout(() => {
    assert.equal(backend.submitted.length, n + 1, 'submitted before the wait');
    backend.statusOf = 'committed';
    backend.change();
  }, 200);
  const r = await p;
  assert.equal(r.status, 202);
  assert.deepEqual(r.body, { id: ID, status: 'committed' });
  const took = Date.now() - t0;
  assert.ok(took >= 150 && took < 3000, `held ${took} ms`);
  backend.statusOf = 'pending';
  const t1 = Date.now();
  const r2 = await call('/v1/blocks?waitMs=300', { method: 'POST', body });
  assert.deepEqual(r2.body, { id: ID, status: 'pending' }, 'still undecided when the wait ends');
  assert.ok(Date.now() - t1 >= 250);
});

test('a long poll whose client goes away gives its slot back at once', async () => {
  backend.statusOf = 'pending';
  const before = backend.listeners;
  const ac = new AbortController();
  const p = fetch(`${server.url}/v1/blocks/${ID}?waitMs=20000`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ac.signal }).catch(() => null);
  for (let i = 0; i < 100 && backend.listeners === before; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(backend.listeners, before + 1, 'the poll is held');
  ac.abort();
  await p;
  for (let i = 0; i < 100 && backend.listeners !== before; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(backend.listeners, before, 'released when the client went away, not after 20 s');
});

test('a request target that is not a path gets 400, not 500', async () => {
  const u = new URL(server.url);
  const status = await new Promise<string>((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname, () => sock.write(`GET http://[ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`));
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('end', () => resolve(text.split('\r\n')[0] ?? ''));
    sock.on('error', reject);
  });
  assert.match(status, /^HTTP\/1\.1 400 /);
});

test('/metrics is Prometheus text with the frame, vote, commit and latency families', async () => {
  const r = await call('/metrics');
  assert.equal(r.status, 200);
  const m = new NodeMetrics();
  m.commitLatency.observe(0.12);
  m.votesIn = 3;
  NodeMetrics.bump(m.events, 'committed');
  const ep = new FrameEndpoint({ transport: {} as never, crypto: {} as never, codec: {} as never }, { identity: { publicKey: new Uint8Array(32), x25519Secret: new Uint8Array(32) }, networkId: 3n });
  const text = renderMetrics(m, { frames: ep.counters(), mempool: 4, headSeq: 7, peersConnected: 2, peersKnown: 3, uptimeS: 1, store: { reads: 1, readMisses: 0, writeTxns: 2, writeTxnsAborted: 0, writeOps: 5, writeBytes: 100, writeTxnSeconds: 0.01 } });
  for (const needle of [
    'ecd_frames_received_total 0',
    'ecd_frames_dropped_total{reason="aead"} 0',
    'ecd_votes_total{direction="in"} 3',
    'ecd_commits_total 1',
    'ecd_commit_latency_seconds_bucket{le="0.15"} 1',
    'ecd_commit_latency_seconds_count 1',
    'ecd_mempool_entries 4',
    'ecd_store_write_txns_total{outcome="committed"} 2',
  ]) {
    assert.ok(text.includes(needle), `missing ${needle}`);
  }
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$|^[a-z_]+(\{.*\})? \+Inf$/);
  }
});

test('/v1/profile: a CPU profile of the process for ?ms, one at a time, bad spans refused', async () => {
  const [a, b] = await Promise.all([call('/v1/profile?ms=200'), (async () => {
    await new Promise((r) => setTimeout(r, 50));
    return call('/v1/profile?ms=10');
  })()]);
  assert.equal(a.status, 200);
  const p = a.body as { nodes?: unknown[]; samples?: unknown[]; startTime?: number; endTime?: number };
  assert.ok(Array.isArray(p.nodes) && p.nodes.length > 0 && Array.isArray(p.samples), 'a .cpuprofile: nodes and samples');
  assert.ok((p.endTime as number) - (p.startTime as number) >= 150_000, 'it spans the asked time (µs)');
  assert.equal(b.status, 409);
  assert.equal((b.body as Record<string, unknown>)['error'], 'busy');
  for (const q of ['?ms=0', '?ms=abc', '?ms=-5']) assert.equal((await call(`/v1/profile${q}`)).status, 400, q);
  assert.equal((await call('/v1/profile?ms=10', { method: 'POST' })).status, 405);
  assert.equal((await call('/v1/profile?ms=10', { auth: null })).status, 401);
});
