/**
 * wireCodec() plugged into daemon/frame-endpoint.ts exactly as the daemon does: small messages
 * share a frame, large ones travel alone, a malformed body from an authenticated sender is
 * REJECTed (onReject) and an unknown kind is IGNOREd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCrypto } from '../kernels/crypto.js';
import { FrameEndpoint } from '../daemon/frame-endpoint.js';
import { MemoryNetwork } from '../daemon/transport.js';
import type { PeerAddress } from '../daemon/transport.js';
import { frameIdentityFromSeed } from '../daemon/pair-keys.js';
import { blobCodec } from '../daemon/blob-codec.js';
import type { BlobMessage } from '../daemon/blob-codec.js';
import { wireCodec } from '../wire/codec.js';
import type { WireMessage } from '../wire/codec.js';
import { vectorMessages } from '../tools/wire-vectors.js';

const T0 = 1_700_000_000_000;
const NET = 3n;

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('wireCodec over FrameEndpoint: every message arrives intact; packing; REJECT and IGNORE paths', async () => {
  const crypto = await loadCrypto();
  const samples = vectorMessages(crypto);
  const net = new MemoryNetwork();
  const seed = (n: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (n * 31 + i) & 0xff);
  const idA = frameIdentityFromSeed(crypto.ed25519, seed(1));
  const idB = frameIdentityFromSeed(crypto.ed25519, seed(2));
  const idC = frameIdentityFromSeed(crypto.ed25519, seed(3));
  const opts = { networkId: NET, clock: () => T0 };
  const a = new FrameEndpoint<WireMessage>({ transport: net.transport(), crypto, codec: wireCodec() }, { identity: idA, ...opts });
  const b = new FrameEndpoint<WireMessage>({ transport: net.transport(), crypto, codec: wireCodec() }, { identity: idB, ...opts });
  // A raw sender: writes any kind and body, to reach b's decoder with bytes no encoder writes.
  const c = new FrameEndpoint<BlobMessage>({ transport: net.transport(), crypto, codec: blobCodec() }, { identity: idC, ...opts });
  const got: WireMessage[] = [];
  const rejects: string[] = [];
  b.onMessage((m) => got.push(m));
  b.onReject((_key, _addr, code) => rejects.push(code));
  await a.start();
  await b.start();
  await c.start();
  try {
    const bAddr = b.localAddress() as PeerAddress;
    const dest = { publicKey: idB.publicKey, address: bAddr };
    const r = a.send(dest, samples, { initiate: true });
    assert.equal(r.messagesDropped, 0);
    assert.equal(r.messagesSent, samples.length);
    assert.ok(r.frames < samples.length, 'small messages were packed');
    await waitFor(() => got.length === samples.length);
    assert.deepStrictEqual(got, samples);
    assert.ok(a.counters().sent.packedFrames >= 1);

    // An unencodable message is dropped at send as bad_message, never thrown.
    const bad = a.send(dest, [{ type: 'vote', blockId: new Uint8Array(3), pos: 1, neg: 0, reply: false }]);
    assert.equal(bad.messagesDropped, 1);

    // Malformed VOTE (reserved flag bit) → REJECT; unknown kind 200 → IGNORE (no reject).
    const vote = new Uint8Array(36);
    vote[0] = 1;
    vote[35] = 0x80;
    c.send(dest, [{ kind: 17, bytes: vote }], { initiate: true });
    c.send(dest, [{ kind: 200, bytes: Uint8Array.of(1) }]);
    await waitFor(() => b.counters().drop.decode === 2);
    assert.deepEqual(rejects, ['field']);
    assert.equal(got.length, samples.length);
  } finally {
    await a.stop();
    await b.stop();
    await c.stop();
    net.close();
  }
});
