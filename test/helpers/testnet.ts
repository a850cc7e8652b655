/** Shared teardown of the multi-process suites' test networks. */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { Testnet } from '../../tools/testnet.js';

/** Stops every daemon (each must exit cleanly) and removes `dir`, unless ECD_KEEP_TESTNET=1. */
export async function stopTestnet(net: Testnet | undefined, dir: string): Promise<void> {
  if (net === undefined) return;
  const codes = await net.stop(10_000);
  if (process.env['ECD_KEEP_TESTNET'] !== '1') await rm(dir, { recursive: true, force: true });
  assert.ok(codes.every((c) => c === 0 || c === null), `daemons exited with ${codes.join(',')}`);
}
