/**
 * tools/api-client.ts against a stub control API in this process (test/helpers/token-stub.ts):
 * 401 handling, 400 reasons, 404 as "no mapping", long-poll waits, wait timeouts, request
 * timeouts, and endpoint resolution from --node / --api / ECD_NODE.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { blockId } from '../wire/block.js';
import { toHex } from '../wire/identity-file.js';
import { ApiClient, ApiError, parseMetricSums, resolveEndpoint, sumMetric } from '../tools/api-client.js';
import { buildCreateBlocks, buildUpdateBlock, ownerKeyFromSeed, parentFromBlock, randomTokens, signedBlockHex } from '../tools/token-blocks.js';
import { testBlake3, testEd25519 } from './helpers/noble-crypto.js';
import { startStub, type StubApi } from './helpers/token-stub.js';
import { seededRandomBytes } from './helpers/token-fixtures.js';

const crypto = { blake3: testBlake3, ed25519: testEd25519 };
const alice = ownerKeyFromSeed(crypto, new Uint8Array(32).fill(1));
const bob = ownerKeyFromSeed(crypto, new Uint8Array(32).fill(2));

let stub: StubApi;
let client: ApiClient;
let dir = '';

before(async () => {
  stub = await startStub({ commitDelayMs: 30 });
  client = new ApiClient({ url: stub.url, token: stub.token }, { timeoutMs: 5_000 });
  dir = await mkdtemp(join(tmpdir(), 'ecd-token-client-'));
});
after(async () => {
  await stub.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('api client', () => {
  test('status parses the network id; a wrong token gets ApiError unauthorized 401 and changes nothing', async () => {
    const s = await client.status();
    assert.equal(s.networkId, 3n);
    assert.equal(s.profile, 'devnet');
    const wrong = new ApiClient({ url: stub.url, token: 'b2'.repeat(32) });
    const before = stub.blocks.size;
    const block = signedBlockHex(buildCreateBlocks(randomTokens(1, seededRandomBytes(1)), alice.keyHash, Date.now())[0]!);
    for (const call of [() => wrong.status(), () => wrong.submitBlock(block), () => wrong.metrics()]) {
      await assert.rejects(call(), (e: unknown) => e instanceof ApiError && e.code === 'unauthorized' && e.status === 401 && /API token was refused/.test(e.reason));
    }
    assert.equal(stub.blocks.size, before);
    assert.ok(stub.requests.some((r) => !r.authorised));
  });

  test('submit + wait: committed, with seq; the mapping and history follow', async () => {
    const [token] = randomTokens(1, seededRandomBytes(2)) as [Uint8Array];
    const created = buildCreateBlocks([token], alice.keyHash, Date.now())[0]!;
    const id = toHex(blockId(testBlake3, 3n, created.block));
    const sub = await client.submitBlock(signedBlockHex(created));
    assert.deepEqual(sub, { id, status: 'pending' });
    const w = await client.waitForBlock(id, { timeoutMs: 5_000 });
    assert.equal(w.outcome, 'committed');
    assert.equal(typeof w.seq, 'number');
    const m = await client.token(toHex(token));
    assert.equal(m?.block, id);
    // Transfer through the client, like `ecd token transfer`.
    const body = await client.block(id);
    assert.ok(body.block !== undefined);
    const parent = parentFromBlock(crypto, 3n, token, created);
    const t = buildUpdateBlock(crypto, 3n, [{ parent, nextKeyHash: bob.keyHash }], alice, Date.now());
    const tid = (await client.submitBlock(signedBlockHex(t))).id;
    assert.equal((await client.waitForBlock(tid)).outcome, 'committed');
    const h = await client.tokenHistory(toHex(token));
    assert.deepEqual(h.history.map((x) => x.block), [tid, id]);
  });

  test('400 answers carry the server error, reason and code; nothing is stored', async () => {
    const before = stub.blocks.size;
    await assert.rejects(client.submitBlock('00ff'), (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === 'malformed' && /not a signed block: short/.test(e.reason) && e.detail === 'short');
    await assert.rejects(client.submitBlock('zz'), (e: unknown) => e instanceof ApiError && e.status === 400 && /lowercase hex/.test(e.reason));
    // A transfer signed by the wrong key: invalid-block / wrong-key.
    const [token] = randomTokens(1, seededRandomBytes(3)) as [Uint8Array];
    const created = buildCreateBlocks([token], alice.keyHash, Date.now())[0]!;
    const cid = (await client.submitBlock(signedBlockHex(created))).id;
    await client.waitForBlock(cid);
    const { nextKeyHash: _unused, ...parent } = parentFromBlock(crypto, 3n, token, created);
    const forged = buildUpdateBlock(crypto, 3n, [{ parent, nextKeyHash: bob.keyHash }], bob, Date.now());
    await assert.rejects(client.submitBlock(signedBlockHex(forged)), (e: unknown) => e instanceof ApiError && e.code === 'invalid-block' && e.detail === 'wrong-key');
    assert.equal(stub.blocks.size, before + 1);
  });

  test('a conflicting second spend is blocked; waitForBlock reports it', async () => {
    const [token] = randomTokens(1, seededRandomBytes(4)) as [Uint8Array];
    const created = buildCreateBlocks([token], alice.keyHash, Date.now())[0]!;
    await client.waitForBlock((await client.submitBlock(signedBlockHex(created))).id);
    const parent = parentFromBlock(crypto, 3n, token, created);
    const a = buildUpdateBlock(crypto, 3n, [{ parent, nextKeyHash: bob.keyHash }], alice, Date.now());
    const b = buildUpdateBlock(crypto, 3n, [{ parent, nextKeyHash: alice.keyHash }], alice, Date.now());
    const [ia, ib] = await Promise.all([client.submitBlock(signedBlockHex(a)), client.submitBlock(signedBlockHex(b))]);
    const [wa, wb] = await Promise.all([client.waitForBlock(ia.id), client.waitForBlock(ib.id)]);
    assert.deepEqual([wa.outcome, wb.outcome].sort(), ['blocked', 'committed']);
  });

  test('404 token is null; an unknown block waits within the budget then times out', async () => {
    assert.equal(await client.token('ee'.repeat(32)), null);
    const t0 = Date.now();
    const w = await client.waitForBlock('ef'.repeat(32), { timeoutMs: 300 });
    assert.equal(w.outcome, 'timeout');
    assert.ok(Date.now() - t0 >= 290 && Date.now() - t0 < 3_000);
    await assert.rejects(client.token('xyz'), (e: unknown) => e instanceof ApiError && e.code === 'bad-request');
  });

  test('a block that never commits: the long poll is held, then timeout', async () => {
    const slow = await startStub({ commitDelayMs: null });
    try {
      const c = new ApiClient({ url: slow.url, token: slow.token });
      const created = buildCreateBlocks(randomTokens(1, seededRandomBytes(5)), alice.keyHash, Date.now())[0]!;
      const { id } = await c.submitBlock(signedBlockHex(created));
      const t0 = Date.now();
      const w = await c.waitForBlock(id, { timeoutMs: 400, pollMs: 150 });
      assert.equal(w.outcome, 'timeout');
      assert.equal(w.status, 'pending');
      assert.ok(Date.now() - t0 >= 390);
      // Few polls: the server held each request (no busy loop).
      const polls = slow.requests.filter((r) => r.path === `/v1/blocks/${id}`).length;
      assert.ok(polls >= 2 && polls <= 5, `polls ${polls}`);
    } finally {
      await slow.stop();
    }
  });

  test('a server that never answers: ApiError timeout; a closed port: unreachable', async () => {
    const hang = await startStub({ hangPaths: ['/v1/status'] });
    try {
      const c = new ApiClient({ url: hang.url, token: hang.token }, { timeoutMs: 200 });
      await assert.rejects(c.status(), (e: unknown) => e instanceof ApiError && e.code === 'timeout' && e.status === null);
    } finally {
      await hang.stop();
    }
    const closed = new ApiClient({ url: 'http://127.0.0.1:9', token: 'x' }, { timeoutMs: 2_000 });
    await assert.rejects(closed.status(), (e: unknown) => e instanceof ApiError && (e.code === 'unreachable' || e.code === 'timeout'));
  });

  test('endpoint resolution: --api + --api-token-file, --node DIR, ECD_NODE, and one-line errors', async () => {
    await writeFile(join(dir, 'api-url'), `${stub.url}/\n`);
    await writeFile(join(dir, 'api-token'), `${stub.token}\n`);
    assert.deepEqual(await resolveEndpoint({ node: dir }, {}), { url: stub.url, token: stub.token });
    assert.deepEqual(await resolveEndpoint({}, { ECD_NODE: dir }), { url: stub.url, token: stub.token });
    assert.deepEqual(await resolveEndpoint({ api: stub.url, apiTokenFile: join(dir, 'api-token') }, { ECD_NODE: '/nonexistent' }), { url: stub.url, token: stub.token });
    const bad = (e: unknown): boolean => e instanceof ApiError && e.code === 'bad-endpoint' && !e.reason.includes('\n');
    await assert.rejects(resolveEndpoint({}, {}), bad);
    await assert.rejects(resolveEndpoint({ api: stub.url }, {}), bad);
    await assert.rejects(resolveEndpoint({ api: 'ftp://x', apiTokenFile: join(dir, 'api-token') }, {}), bad);
    await assert.rejects(resolveEndpoint({ node: join(dir, 'missing') }, {}), bad);
  });

  test('metrics: text, summed per name over labels', async () => {
    const text = await client.metrics();
    assert.equal(sumMetric(text, 'ecd_frames_out_total'), 7);
    assert.equal(parseMetricSums(text).get('ecd_commits_total'), stub.blocks.size > 0 ? Number(/ecd_commits_total (\d+)/.exec(text)?.[1]) : 0);
    assert.equal(sumMetric(text, 'ecd_frames'), 0);
  });
});
