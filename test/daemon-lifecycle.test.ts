/**
 * EcdNode lifecycle in one process: a stop() that arrives while start() is still running waits
 * for it and then closes everything start() opened (socket, API, store), so nothing outlives
 * the stop.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EcdNode, ensureApiToken } from '../daemon/node.js';
import { resolveConfig } from '../daemon/config.js';
import { silentLogger } from '../daemon/log.js';
import { mineIdentity } from '../tools/testnet.js';
import { PROFILES } from '../wire/profiles.js';

test('stop() during start() waits for it, then closes the socket, the API and the store', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ecd-lifecycle-'));
  try {
    const id = await mineIdentity(PROFILES.devnet, 1);
    await writeFile(join(dir, 'identity.json'), id.text, { mode: 0o600 });
    const config = resolveConfig({ flags: { dataDir: dir, store: 'lmdb' }, env: {} });
    const node = await EcdNode.create(config, silentLogger());
    const started = node.start();
    const stopped = node.stop(); // before start() has finished
    await Promise.all([started, stopped]);
    assert.equal(node.endpoint.isStarted, false, 'the UDP socket is closed');
    await assert.rejects(fetch(node.apiUrl), 'the API no longer listens');
    // A second start after stop does nothing.
    await node.start();
    assert.equal(node.endpoint.isStarted, false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('api-token: created once with mode 0600 and reused; a file others can read, or a malformed one, is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ecd-token-'));
  try {
    const a = await ensureApiToken(dir);
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal((await stat(join(dir, 'api-token'))).mode & 0o777, 0o600);
    assert.equal(await ensureApiToken(dir), a, 'reused');
    assert.deepEqual((await readdir(dir)).sort(), ['api-token'], 'no temporary file left behind');
    await chmod(join(dir, 'api-token'), 0o644);
    await assert.rejects(ensureApiToken(dir), /readable by others \(mode 644\); run: chmod 600/);
    await writeFile(join(dir, 'api-token'), 'nope\n', { mode: 0o600 });
    await chmod(join(dir, 'api-token'), 0o600);
    await assert.rejects(ensureApiToken(dir), /not 64 lowercase hex digits/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('one-sided bootstrap: the peer that was found (not configured) has its address proven and gets answers to its queries', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'ecd-onesided-'));
  const nodes: EcdNode[] = [];
  try {
    const make = async (name: string, bootstrap: string[]): Promise<EcdNode> => {
      const dir = join(root, name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'identity.json'), (await mineIdentity(PROFILES.devnet, 1)).text, { mode: 0o600 });
      const n = await EcdNode.create(resolveConfig({ flags: { dataDir: dir, store: 'memory', bootstrap }, env: {} }), silentLogger());
      nodes.push(n);
      await n.start();
      return n;
    };
    const b = await make('b', []); // B knows nobody
    const a = await make('a', [join(root, 'b')]); // A bootstraps to B only
    for (let i = 0; i < 200 && a.peers.counts().connected < 1; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(a.peers.counts().connected, 1, 'A connects to B');
    // B answers A's PING with a PING of its own; A's PONG proves A's address to B.
    await new Promise((r) => setTimeout(r, 500));
    // B has proof that A receives its frames, so B's replies to A are not capped at 3× what A sent
    // (an ANSWER with evidence, ≈ 690 B, is over 3× its query, ≈ 165 B).
    const aUdp = a.udpAddress();
    assert.ok(aUdp !== null);
    assert.equal(b.endpoint.addressState(aUdp), 'validated');
    let answered = 0;
    for (let q = 0; q < 60; q++) {
      const r = (await a.networkToken(new Uint8Array(32).fill(q), 1_000)) as { asked: number; answers: unknown[]; silent: number };
      assert.equal(r.asked, 1);
      answered += r.answers.length;
    }
    assert.equal(answered, 60, 'every query answered');
  } finally {
    for (const n of nodes) await n.stop();
    await rm(root, { recursive: true, force: true });
  }
});
