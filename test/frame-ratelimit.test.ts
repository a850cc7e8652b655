/**
 * wire/ratelimit.ts with an injected clock: scripted expectations in the manner of wireguard-go's
 * ratelimiter_test.go (burst allowed, next refused, refill after a known time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddressRateLimiter,
  DEFAULT_ADDRESS_BURST,
  DEFAULT_ADDRESS_RATE_PER_S,
  DEFAULT_KEY_AGREEMENTS_PER_S,
  TokenBucket,
} from '../wire/ratelimit.js';

const T0 = 1_700_000_000_000;

test('defaults are PROTOCOL §3: 20 000/s burst 40 000 per address; 500 key agreements/s', () => {
  assert.equal(DEFAULT_ADDRESS_RATE_PER_S, 20_000);
  assert.equal(DEFAULT_ADDRESS_BURST, 40_000);
  assert.equal(DEFAULT_KEY_AGREEMENTS_PER_S, 500);
});

test('address bucket: burst, refusal, refill at 20 per ms, cap at burst', () => {
  const l = new AddressRateLimiter();
  const a = '127.0.0.1:5000';
  for (let i = 0; i < 40_000; i++) assert.ok(l.take(a, T0), `token ${i}`);
  assert.equal(l.take(a, T0), false);
  // 1 ms later: 20 more.
  for (let i = 0; i < 20; i++) assert.ok(l.take(a, T0 + 1));
  assert.equal(l.take(a, T0 + 1), false);
  // Half a millisecond: 10.
  let n = 0;
  while (l.take(a, T0 + 1.5)) n++;
  assert.equal(n, 10);
  // A long pause refills to the burst, not beyond.
  n = 0;
  while (l.take(a, T0 + 3_600_000) && n < 50_000) n++;
  assert.equal(n, 40_000);
});

test('address bucket: addresses are independent; IP and port both count', () => {
  const l = new AddressRateLimiter({ ratePerS: 1000, burst: 2 });
  for (const a of ['10.0.0.1:1', '10.0.0.1:2', '10.0.0.2:1', '[::1]:1']) {
    assert.ok(l.take(a, T0));
    assert.ok(l.take(a, T0));
    assert.equal(l.take(a, T0), false, a);
  }
  assert.ok(l.take('10.0.0.1:1', T0 + 1)); // 1 token per ms
  assert.equal(l.take('10.0.0.1:1', T0 + 1), false);
});

test('address bucket: a clock stepping back refills nothing and breaks nothing', () => {
  const l = new AddressRateLimiter({ ratePerS: 1000, burst: 1 });
  assert.ok(l.take('a', T0));
  assert.equal(l.take('a', T0 - 10_000), false);
  assert.equal(l.take('a', T0), false);
  assert.ok(l.take('a', T0 + 1));
});

test('address bucket: the map is bounded; an active address survives churn', () => {
  const l = new AddressRateLimiter({ ratePerS: 0, burst: 3, maxEntries: 100 });
  assert.ok(l.take('hot', T0));
  for (let i = 0; i < 10_000; i++) {
    l.take(`spoof${i}`, T0);
    if (i % 40 === 0) l.take('hot', T0); // used at least once per maxEntries / 2 insertions
  }
  assert.ok(l.size <= 100);
  assert.equal(l.evicted + l.size, 10_001);
  // 'hot' kept its (empty, rate 0) bucket: still refused.
  assert.equal(l.take('hot', T0), false);
});

test('global key-agreement budget: 500 burst, then 1 per 2 ms', () => {
  const b = new TokenBucket({ ratePerS: 500, burst: 500 });
  for (let i = 0; i < 500; i++) assert.ok(b.take(T0));
  assert.equal(b.take(T0), false);
  assert.equal(b.take(T0 + 1), false);
  assert.ok(b.take(T0 + 2));
  assert.equal(b.take(T0 + 2), false);
  assert.ok(Math.abs(b.available(T0 + 1002) - 500) < 1e-9);
});

test('bad parameters are refused', () => {
  assert.throws(() => new TokenBucket({ ratePerS: -1, burst: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ ratePerS: 1, burst: 0 }), RangeError);
  assert.throws(() => new AddressRateLimiter({ ratePerS: Number.NaN }), RangeError);
});
