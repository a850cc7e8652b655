/**
 * Crash acceptance (issue 5): a child commits under load and is SIGKILLed at random (seeded)
 * moments, 200 times; after each kill the store opens, every acknowledged commit is present, an
 * in-flight batch is all there or not at all, and the chain verifies.
 *
 * Longer opt-in run:  ECD_CRASH_KILLS=2000 ECD_CRASH_SEED=7 node --test dist/test/store-crash.test.js
 * (ECD_CRASH_MAX_ACKS / ECD_CRASH_MAX_DELAY_MS move the kill window, ECD_CRASH_SPARES the number
 * of children loading ahead; the seed is in every failure message.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStoreCrashChecker, runCrashLoop } from './helpers/store-crash-harness.js';
import { CRASH_CHILD_NETWORK } from './helpers/store-crash-protocol.js';

const KILLS = Number(process.env['ECD_CRASH_KILLS'] ?? 200);
const SEED = Number(process.env['ECD_CRASH_SEED'] ?? 0x5eed5);
const MAX_DELAY_MS = Number(process.env['ECD_CRASH_MAX_DELAY_MS'] ?? 12);
const MAX_ACKS = Number(process.env['ECD_CRASH_MAX_ACKS'] ?? 6);

test(`store survives ${KILLS} SIGKILLs under load (seed ${SEED})`, { timeout: Math.max(180_000, KILLS * 2_000) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ecd-store-crash-'));
  const child = fileURLToPath(new URL('./helpers/store-crash-child.js', import.meta.url));
  try {
    const checker = createStoreCrashChecker(dir, { networkId: CRASH_CHILD_NETWORK, seed: SEED, fullEvery: 20 });
    const report = await runCrashLoop({
      iterations: KILLS,
      seed: SEED,
      // Kill after 0…6 acknowledgements plus 0…12 ms (a commit takes a few ms here), so kills
      // land at open, between batches and inside apply, however loaded the machine is.
      killAfterLines: { match: (line) => line.startsWith('ack '), count: [0, MAX_ACKS] },
      killDelayMs: [0, MAX_DELAY_MS],
      // Two spares load their code while the current child runs; each opens the store only on "go".
      goLine: 'go\n',
      spares: Number(process.env['ECD_CRASH_SPARES'] ?? 2),
      spawn: () => spawn(process.execPath, [child, dir, '--seed', String(SEED), '--wait-go'], { stdio: ['pipe', 'pipe', 'pipe'] }),
      check: checker.check,
    });
    const { tally } = checker;
    t.diagnostic(`kills ${report.kills}, wall ${(report.wallMs / 1000).toFixed(1)} s (go → ready ${(report.startupMs / 1000).toFixed(1)} s, checks ${(report.checkMs / 1000).toFixed(1)} s), acked batches ${tally.acked}, head ${tally.head}, in flight at kill ${tally.inFlight} (${tally.inFlightCommitted} had committed)`);
    assert.equal(report.kills, KILLS);
    // The kills must hit a working child, often inside apply (loose bound: timing varies).
    assert.ok(tally.acked >= KILLS, `the children made progress (${tally.acked} batches acknowledged)`);
    assert.ok(tally.inFlight >= KILLS / 10, `kills landed with a batch in flight (${tally.inFlight})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
