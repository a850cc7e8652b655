/**
 * daemon/token-query.ts without sockets: a requester and responders wired through an in-memory
 * "send", with a fake store. Forged, misdirected and replayed responses must never count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCrypto, type CryptoKernels } from '../kernels/crypto.js';
import { TokenQueries, TokenQueryError, TOKEN_QUERY_LIMITS, type TokenQueryModules } from '../daemon/token-query.js';
import type { RingWalker } from '../consensus/storage-proof.js';
import type { StoreReader, TokenMapping } from '../store/types.js';
import type { CommitRecord } from '../wire/block.js';
import { signAnswer, verifyAnswer, type AnswerMessage } from '../wire/msg-answer.js';
import type { Ed25519Signer } from '../kernels/types.js';
import type { QueryTokenMessage, ReferralMessage } from '../wire/msg-peer.js';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import { SeededRng } from './helpers/seeded-rng.js';

const NET = 7n;
const fill = (b: number): Uint8Array => new Uint8Array(32).fill(b);

function fakeStore(mapping: Map<string, TokenMapping>): StoreReader {
  const hx = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const commit: CommitRecord = { seq: 3, id: fill(3), prevId: fill(2), time: 1_700_000_000_000, blockIds: [fill(0xb1)] };
  return {
    head: () => ({ seq: 3, id: fill(3) }),
    token: (t) => mapping.get(hx(t)),
    block: (id) =>
      hx(id) === hx(fill(0xb1))
        ? { id, seq: 3, signatures: [], block: { version: 1, time: 1, entries: [{ token: fill(0x71), last: new Uint8Array(32), nextKeyHash: fill(9) }] } }
        : undefined,
    hasBlock: () => false,
    spend: () => undefined,
    commit: (seq) => (seq === 3 ? commit : undefined),
  };
}

interface Node {
  q: TokenQueries;
  pk: Uint8Array;
  address: Uint8Array;
  signer: Ed25519Signer;
}

function makeNet(crypto: CryptoKernels, n: number, opts: { hosts?: (i: number) => boolean; canSend?: (to: number) => boolean; knowsNobody?: boolean; store?: (i: number) => StoreReader | undefined; connected?: boolean } = {}) {
  const rng = new SeededRng(42);
  const outbox: { from: number; to: Uint8Array; m: QueryTokenMessage | AnswerMessage | ReferralMessage }[] = [];
  const nodes: Node[] = [];
  const mapping = new Map<string, TokenMapping>([[Buffer.from(fill(0x71)).toString('hex'), { block: fill(0xb1), parent: new Uint8Array(32), time: 1, seq: 3, source: 'vote' }]]);
  for (let i = 0; i < n; i++) {
    const signer = crypto.ed25519.signerFromSeed(fill(i + 1));
    const mods: TokenQueryModules = {
      blake3: crypto.blake3,
      ed25519: crypto.ed25519,
      store: opts.store?.(i) ?? fakeStore(mapping),
      signer,
      address: fill(0x40 + i),
      networkId: NET,
      hosts: () => opts.hosts?.(i) ?? true,
      connected: () => opts.connected === true,
      addressOf: (pk) => nodes.find((x) => Buffer.compare(x.pk, pk) === 0)?.address,
      referrals: (_t, count, exclude) =>
        opts.knowsNobody === true ? [] : nodes
          .filter((x) => Buffer.compare(x.pk, exclude) !== 0 && x !== nodes[i])
          .slice(0, count)
          .map((x) => ({ identity: { version: 1, networkId: NET, publicKey: x.pk, nonce: new Uint8Array(16), time: 1, difficulty: 2, signature: new Uint8Array(64) }, endpoint: { family: 4 as const, ip: new Uint8Array([127, 0, 0, 1]), port: 9000 + nodes.indexOf(x) } })),
      send: (to, m) => {
        const j = nodes.findIndex((x) => Buffer.compare(x.pk, to) === 0);
        if (opts.canSend !== undefined && !opts.canSend(j)) return false;
        outbox.push({ from: i, to, m });
        return true;
      },
      clock: () => 1_700_000_000_500,
      random: (k) => rng.bytes(k),
    };
    nodes.push({ q: new TokenQueries(mods), pk: signer.publicKey, address: mods.address, signer });
  }
  /** Node `at` receives a reply from node `sender`, through the real codec, as the daemon would. */
  const receive = (at: number, sender: number, r: AnswerMessage | ReferralMessage): void => {
    const dec = decodeMessage(encodeMessage(r));
    assert.ok(dec.ok, 'replies encode and decode');
    const v = dec.message;
    if ((v.type === 'answer' || v.type === 'referral') && nodes[at]!.q.relay(nodes[sender]!.pk, v)) return;
    if (v.type === 'answer') nodes[at]!.q.onAnswer(nodes[sender]!.pk, v);
    else if (v.type === 'referral') nodes[at]!.q.onReferral(nodes[sender]!.pk, v);
  };
  /** Delivers every queued message until none is left; `tamper` may change or swallow each reply. */
  const deliver = (tamper: (reply: AnswerMessage | ReferralMessage, responder: number) => (AnswerMessage | ReferralMessage)[] = (r) => [r]): void => {
    for (let round = 0; outbox.length > 0 && round < 8; round++) {
      for (const { from, to, m } of outbox.splice(0)) {
        const j = nodes.findIndex((x) => Buffer.compare(x.pk, to) === 0);
        if (m.type !== 'query-token') {
          receive(j, from, m);
          continue;
        }
        const reply = nodes[j]!.q.respond(nodes[from]!.pk, m);
        if (reply === null) continue;
        for (const r of tamper(reply, j)) receive(from, j, r);
      }
    }
  };
  return { nodes, deliver, outbox };
}

test('answers: signed, bound to the requester and ticket, with the mapping, evidence and head', async () => {
  const crypto = await loadCrypto();
  const { nodes, deliver } = makeNet(crypto, 4);
  const p = nodes[0]!.q.query(fill(0x71), nodes.slice(1).map((x) => ({ publicKey: x.pk, address: x.address })), 5_000);
  let seen: AnswerMessage | undefined;
  deliver((r) => {
    if (r.type === 'answer') seen = r;
    return [r];
  });
  const r = await p;
  assert.equal(r.asked, 3);
  assert.equal(r.silent, 0);
  assert.equal(r.answers.length, 3);
  for (const a of r.answers) {
    assert.equal(a.block, Buffer.from(fill(0xb1)).toString('hex'));
    assert.equal(a.seq, 3);
    assert.equal(a.head.seq, 3);
    assert.equal(a.evidence, 1);
  }
  assert.ok(seen !== undefined);
  assert.deepEqual(seen.requester, nodes[0]!.address);
  assert.ok(verifyAnswer(crypto, NET, seen));
  assert.ok(!verifyAnswer(crypto, NET + 1n, seen), 'another network id does not verify');
  assert.equal(nodes[0]!.q.pendingCount, 0);
});

test('a token the responder does not map: a signed answer with no mapping', async () => {
  const crypto = await loadCrypto();
  const { nodes, deliver } = makeNet(crypto, 2);
  const p = nodes[0]!.q.query(fill(0x99), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 5_000);
  deliver();
  const r = await p;
  assert.equal(r.answers.length, 1);
  assert.equal(r.answers[0]!.block, null);
});

test('forged, misdirected and replayed answers never count', async () => {
  const crypto = await loadCrypto();
  const { nodes, deliver } = makeNet(crypto, 5);
  const q = nodes[0]!.q;
  const p = q.query(fill(0x71), nodes.slice(1).map((x) => ({ publicKey: x.pk, address: x.address })), 200);
  deliver((r, j) => {
    if (r.type !== 'answer') return [r];
    const flipped = Uint8Array.from(r.signature);
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    switch (j) {
      case 1:
        return [{ ...r, signature: flipped }]; // bad signature
      case 2:
        return [{ ...r, requester: fill(0xee) }]; // bound to someone else (signature no longer matches either)
      case 3:
        return [{ ...r, ticket: new Uint8Array(16).fill(1) }]; // unknown ticket
      default:
        return [r, r]; // the second copy is a replay
    }
  });
  const r = await p;
  assert.equal(r.answers.length, 1, JSON.stringify(r.answers));
  assert.equal(r.silent, 2, 'a badly signed answer ends that peer’s turn; the misdirected ones do not');
  assert.equal(q.drops['bad-signature'], 1);
  assert.equal(q.drops['wrong-fields'], 1);
  assert.equal(q.drops['unknown-ticket'], 1);
  assert.equal(q.drops.duplicate, 1);
});

test('an answer signed by another key counts only when it came back through the peer we asked', async () => {
  const crypto = await loadCrypto();
  const { nodes, outbox } = makeNet(crypto, 3);
  const q = nodes[0]!.q;
  const p = q.query(fill(0x71), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 100);
  const { m } = outbox.splice(0)[0]!;
  assert.equal(m.type, 'query-token');
  const reply = nodes[2]!.q.respond(nodes[0]!.pk, m as QueryTokenMessage);
  assert.ok(reply !== null && reply.type === 'answer');
  q.onAnswer(nodes[2]!.pk, reply); // node 2 was never asked
  q.onAnswer(nodes[1]!.pk, reply); // node 2's answer, relayed by node 1 (which forwarded the query)
  const r = await p;
  assert.equal(q.drops['wrong-responder'], 1);
  assert.equal(r.answers.length, 1);
  assert.equal(r.answers[0]?.responder, Buffer.from(nodes[2]!.pk).toString('hex'));
  assert.equal(r.answers[0]?.via, Buffer.from(nodes[1]!.pk).toString('hex'));
});

test('forwarding: a peer that does not host the token forwards about 2/3 of a Connected asker\'s queries to a host and relays the answers, still bound to the asker; it refers the rest', async () => {
  const crypto = await loadCrypto();
  const { nodes, deliver } = makeNet(crypto, 3, { hosts: (i) => i !== 1, connected: true });
  // Under the per-sender burst (the clock stands still here).
  const n = 90;
  let viaOne = 0;
  for (let k = 0; k < n; k++) {
    const p = nodes[0]!.q.query(fill(0x71), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 5_000);
    deliver();
    const r = await p;
    assert.equal(r.silent, 0, 'every query ends with an answer or a referral');
    if (r.answers.length === 1) {
      viaOne++;
      const a = r.answers[0]!;
      assert.equal(a.responder, Buffer.from(nodes[2]!.pk).toString('hex'));
      assert.equal(a.via, Buffer.from(nodes[1]!.pk).toString('hex'));
      assert.equal(a.verified, true);
    } else assert.ok(r.referrals.length > 0);
  }
  assert.equal(nodes[1]!.q.forwarded, viaOne);
  assert.equal(nodes[1]!.q.relayed, viaOne);
  assert.ok(viaOne > 0.5 * n && viaOne < 0.8 * n, `${viaOne} of ${n} forwarded`);
});

test('forwarding: never for an asker that is not Connected; a reply is relayed only from the peer it was forwarded to', async () => {
  const crypto = await loadCrypto();
  const notConnected = makeNet(crypto, 3, { hosts: (i) => i !== 1 });
  for (let k = 0; k < 20; k++) {
    const p = notConnected.nodes[0]!.q.query(fill(0x71), [{ publicKey: notConnected.nodes[1]!.pk, address: notConnected.nodes[1]!.address }], 5_000);
    notConnected.deliver();
    assert.equal((await p).answers.length, 0);
  }
  assert.equal(notConnected.nodes[1]!.q.forwarded, 0);
  // A query forwarded to a host: the host's answer comes back; the same answer from anyone else is not relayed.
  const { nodes, outbox } = makeNet(crypto, 4, { hosts: (i) => i !== 1, connected: true });
  let forwarded: QueryTokenMessage | undefined;
  for (let k = 0; k < 20 && forwarded === undefined; k++) {
    void nodes[0]!.q.query(fill(0x71), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 50);
    const { m } = outbox.splice(0)[0]!;
    // Null when forwarded (the forwarded query is then in the outbox), else a referral.
    if (nodes[1]!.q.respond(nodes[0]!.pk, m as QueryTokenMessage) !== null) continue;
    forwarded = outbox.splice(0)[0]?.m as QueryTokenMessage | undefined;
  }
  assert.ok(forwarded !== undefined && forwarded.allowForward === false, 'forwarded once, one hop');
  assert.deepEqual(forwarded.requester, nodes[0]!.address, 'the requester stays the original asker');
  const answer = nodes[2]!.q.respond(nodes[1]!.pk, forwarded);
  assert.ok(answer !== null && answer.type === 'answer');
  assert.deepEqual(answer.requester, nodes[0]!.address);
  assert.equal(nodes[1]!.q.relay(nodes[3]!.pk, answer), false, 'not from the peer it was forwarded to');
});

test('a peer that does not host the token refers, never to the asker; the referral ends the wait', async () => {
  const crypto = await loadCrypto();
  const { nodes, deliver } = makeNet(crypto, 4, { hosts: (i) => i !== 1 });
  const p = nodes[0]!.q.query(fill(0x71), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 5_000);
  deliver();
  const r = await p;
  assert.equal(r.answers.length, 0);
  assert.equal(r.silent, 0);
  assert.equal(r.referrals.length, TOKEN_QUERY_LIMITS.referralPeers);
  const asker = Buffer.from(nodes[0]!.pk).toString('hex');
  assert.ok(r.referrals.every((x) => x.publicKey !== asker));
});

test('timeouts resolve with what arrived; limits and stop() refuse new queries', async () => {
  const crypto = await loadCrypto();
  const { nodes } = makeNet(crypto, 2);
  const q = nodes[0]!.q;
  const r = await q.query(fill(0x71), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 20);
  assert.equal(r.silent, 1);
  assert.equal(r.answers.length, 0);
  const none = await q.query(fill(0x71), [], 10_000);
  assert.equal(none.asked, 0, 'no targets resolves at once');
  const held = Array.from({ length: TOKEN_QUERY_LIMITS.maxPending }, () => q.query(fill(0x71), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 60_000));
  await assert.rejects(q.query(fill(0x71), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 10), (e: unknown) => e instanceof TokenQueryError && e.code === 'busy');
  q.stop();
  const done = await Promise.all(held);
  assert.ok(done.every((d) => d.silent === 1));
  await assert.rejects(q.query(fill(0x71), [], 10), (e: unknown) => e instanceof TokenQueryError && e.code === 'stopped');
});

const ts = (crypto: CryptoKernels, n: Node, a: AnswerMessage, change: Partial<AnswerMessage>): AnswerMessage => {
  const { type: _t, signature: _s, ...rest } = { ...a, ...change };
  return signAnswer(crypto.blake3, n.signer, NET, rest);
};

test('a correctly signed answer about another token, or a referral about another token, does not count', async () => {
  const crypto = await loadCrypto();
  const { nodes, deliver } = makeNet(crypto, 3, { hosts: (i) => i !== 2 });
  const q = nodes[0]!.q;
  const p = q.query(fill(0x71), nodes.slice(1).map((x) => ({ publicKey: x.pk, address: x.address })), 100);
  deliver((r, j) => {
    if (r.type === 'answer') return [ts(crypto, nodes[j]!, r, { token: fill(0x72) })];
    return [{ ...r, token: fill(0x72) }];
  });
  const r = await p;
  assert.equal(r.answers.length + r.referrals.length, 0);
  assert.equal(q.drops['wrong-fields'], 2);
  assert.equal(r.silent, 2);
});

test('a referral from a peer that was not asked does not count', async () => {
  const crypto = await loadCrypto();
  const { nodes, outbox } = makeNet(crypto, 3, { hosts: () => false });
  const q = nodes[0]!.q;
  const p = q.query(fill(0x71), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 50);
  const { m } = outbox.splice(0)[0]!;
  const reply = nodes[2]!.q.respond(nodes[0]!.pk, m as QueryTokenMessage);
  assert.ok(reply !== null && reply.type === 'referral');
  q.onReferral(nodes[2]!.pk, reply);
  const r = await p;
  assert.equal(r.referrals.length, 0);
  assert.equal(q.drops['wrong-responder'], 1);
});

test('targets: at most maxAsked, never ourselves, each once, and only those the send reached', async () => {
  const crypto = await loadCrypto();
  const n = TOKEN_QUERY_LIMITS.maxAsked + 6;
  const { nodes } = makeNet(crypto, n, { canSend: (j) => j !== 3 });
  const t = (i: number) => ({ publicKey: nodes[i]!.pk, address: nodes[i]!.address });
  const r1 = await nodes[0]!.q.query(fill(0x71), [t(0), t(1), t(1), t(2), t(3)], 0);
  assert.equal(r1.asked, 2, 'self, the duplicate and the unroutable peer are not asked');
  const many = Array.from({ length: n - 1 }, (_, i) => t(i + 1)).filter((_, i) => i + 1 !== 3);
  const r2 = await nodes[0]!.q.query(fill(0x71), many, 0);
  assert.equal(r2.asked, TOKEN_QUERY_LIMITS.maxAsked);
});

test('stop() resolves pending queries at once and clears their timers', async () => {
  const crypto = await loadCrypto();
  const { nodes } = makeNet(crypto, 2);
  const q = nodes[0]!.q;
  const t0 = performance.now();
  const held = q.query(fill(0x71), [{ publicKey: nodes[1]!.pk, address: nodes[1]!.address }], 60_000);
  const before = process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
  q.stop();
  const r = await held;
  assert.ok(performance.now() - t0 < 1_000, 'resolved by stop(), not by its timeout');
  assert.equal(r.silent, 1);
  assert.equal(process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length, before - 1, 'its timer is gone');
});

test('responder: a sender over its rate, a requester that is not the asker, and nobody to refer to', async () => {
  const crypto = await loadCrypto();
  const { nodes } = makeNet(crypto, 3, { hosts: () => false, knowsNobody: true });
  const r = nodes[1]!.q;
  const query = (requester: Uint8Array) => ({ type: 'query-token' as const, token: fill(0x71), ticket: new Uint8Array(16), requester, wantProof: false, allowForward: false });
  // Nobody to refer to: a signed answer (here: the fake store maps the token) instead of silence.
  const a = r.respond(nodes[0]!.pk, query(nodes[0]!.address));
  assert.ok(a !== null && a.type === 'answer');
  assert.equal(r.respond(nodes[0]!.pk, query(nodes[2]!.address)), null, 'statements are bound to the asker only');
  assert.equal(r.refused['wrong-requester'], 1);
  // The clock stands still: the per-sender burst, then refusals; another sender is unaffected.
  let served = 2;
  while (r.respond(nodes[0]!.pk, query(nodes[0]!.address)) !== null) served++;
  assert.equal(served, TOKEN_QUERY_LIMITS.perSenderBurst);
  assert.equal(r.refused['rate-limited'], 1);
  assert.ok(r.respond(nodes[2]!.pk, query(nodes[2]!.address)) !== null);
});

test('wantProof: a responder that stores the tokens around it proves storage; one that does not sends none', async () => {
  const crypto = await loadCrypto();
  const rng = new SeededRng(9);
  const entries = new Map<string, TokenMapping>();
  for (let i = 0; i < 30_000; i++) entries.set(Buffer.from(rng.bytes(32)).toString('hex'), { block: rng.bytes(32), parent: new Uint8Array(32), time: 1, seq: 3, source: 'vote' });
  const keys = [...entries.keys()].sort();
  const token = Uint8Array.from(Buffer.from(keys[100] as string, 'hex'));
  const full = (): StoreReader & RingWalker => ({
    ...fakeStore(entries),
    tokensFrom(from: Uint8Array, direction: 'up' | 'down', limit: number) {
      const k = Buffer.from(from).toString('hex');
      let i = keys.findIndex((x) => (direction === 'up' ? x > k : x >= k));
      if (i < 0) i = direction === 'up' ? 0 : keys.length;
      const out = [];
      for (let step = 0; step < keys.length && out.length < limit; step++) {
        const j = direction === 'up' ? (i + step) % keys.length : (((i - 1 - step) % keys.length) + keys.length) % keys.length;
        if (keys[j] === k) continue;
        out.push({ token: Uint8Array.from(Buffer.from(keys[j] as string, 'hex')), mapping: entries.get(keys[j] as string) as TokenMapping });
      }
      return out;
    },
  });
  // n2 stores everything, n3 only the token itself (no ring to walk).
  const { nodes, deliver } = makeNet(crypto, 3, { store: (i) => (i === 1 ? full() : i === 2 ? fakeStore(entries) : undefined) });
  const p = nodes[0]!.q.query(token, nodes.slice(1).map((x) => ({ publicKey: x.pk, address: x.address })), 5_000, true);
  deliver();
  const r = await p;
  const byResponder = new Map(r.answers.map((a) => [a.responder, a.proof]));
  assert.equal(byResponder.get(Buffer.from(nodes[1]!.pk).toString('hex')), 'valid');
  assert.equal(byResponder.get(Buffer.from(nodes[2]!.pk).toString('hex')), 'none');
});
