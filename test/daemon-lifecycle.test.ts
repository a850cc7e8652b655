/**
 * EcdNode lifecycle in one process: a stop() that arrives while start() is still running waits
 * for it and then closes everything start() opened (socket, API, store), so nothing outlives
 * the stop.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EcdNode } from '../daemon/node.js';
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
