import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { collect, oneLineReason, runCli, spawnCli, withTempDir } from './helpers/cli.js';
import { loadSodiumNative } from '../kernels/argon2/engines.js';

interface StateJson {
  type: string;
  profile: string;
  difficulty: number;
  time: number;
  public_key: string;
  secret_seed: string;
  attempts: number;
  seconds: number;
}

/** Starts `ecd mine`, waits for its first progress line (after 1 s), sends SIGINT. */
async function mineThenInterrupt(dir: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawnCli(['mine', ...args], dir);
  const done = collect(child);
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no progress line: ${seen}`)), 30_000);
    child.stderr?.on('data', (d: Buffer | string) => {
      seen += String(d);
      if (/attempts, /.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGINT');
  const r = await done;
  return { code: r.code, stderr: r.stderr };
}

test('SIGINT saves a resumable state (exit 130) and --resume finishes with the same key and time', async () => {
  await withTempDir(async (dir) => {
    // d = 24 cannot finish in a second or two, so the run is surely interrupted.
    const first = await mineThenInterrupt(dir, ['--profile', 'devnet', '--difficulty', '24', '--workers', '1', '--out', 'id.json']);
    assert.equal(first.code, 130, first.stderr);
    assert.match(oneLineReason(first.stderr), /^interrupted after [0-9,]+ attempts; state saved to id\.json\.mining\.json/);
    assert.match(first.stderr, /expected 16,777,216/);
    assert.match(first.stderr, /ETA/);

    const statePath = join(dir, 'id.json.mining.json');
    assert.equal((await stat(statePath)).mode & 0o777, 0o600);
    const state = JSON.parse(await readFile(statePath, 'utf8')) as StateJson;
    assert.equal(state.type, 'ecd-mining-state');
    assert.equal(state.profile, 'devnet');
    assert.equal(state.difficulty, 24);
    assert.ok(state.attempts > 0, 'attempts were counted');
    assert.ok(state.seconds > 0.5);

    // A fresh run must not silently discard the saved one.
    const fresh = await runCli(['mine', '--profile', 'devnet', '--out', 'id.json'], dir);
    assert.equal(fresh.code, 1);
    assert.match(oneLineReason(fresh.stderr), /--resume/);
    // Nor continue it on another network (the network id is in the salt).
    const other = await runCli(['mine', '--resume', '--profile', 'testnet', '--out', 'id.json'], dir);
    assert.equal(other.code, 1);
    assert.match(oneLineReason(other.stderr), /is for devnet/);

    // Resume at d = 12 (the salt does not depend on d, so every attempt so far still counts).
    const resumed = await runCli(['mine', '--resume', '--out', 'id.json', '--difficulty', '12', '--workers', '2', '--json'], dir);
    assert.equal(resumed.code, 0, resumed.stderr);
    const out = JSON.parse(resumed.stdout) as { attempts: number; seconds: number; difficulty: number };
    assert.equal(out.difficulty, 12);
    assert.ok(out.attempts > state.attempts, 'attempts continue from the saved count');
    assert.ok(out.seconds >= state.seconds);

    const id = JSON.parse(await readFile(join(dir, 'id.json'), 'utf8')) as StateJson;
    assert.equal(id.public_key, state.public_key);
    assert.equal(id.secret_seed, state.secret_seed);
    assert.equal(id.time, state.time);
    await assert.rejects(stat(statePath), 'the state file is removed once the identity is written');
    const v = await runCli(['identity', 'verify', 'id.json'], dir);
    assert.equal(v.code, 0, v.stderr);
  });
});

test('--resume refuses a state whose mining time is too old to give a valid identity', async () => {
  await withTempDir(async (dir) => {
    const first = await mineThenInterrupt(dir, ['--profile', 'devnet', '--difficulty', '24', '--workers', '1', '--out', 'id.json']);
    assert.equal(first.code, 130, first.stderr);
    const statePath = join(dir, 'id.json.mining.json');
    const state = JSON.parse(await readFile(statePath, 'utf8')) as StateJson;
    state.time -= 400 * 86400;
    await writeFile(statePath, JSON.stringify(state));
    const r = await runCli(['mine', '--resume', '--out', 'id.json', '--difficulty', '4'], dir);
    assert.equal(r.code, 1);
    assert.match(oneLineReason(r.stderr), /saved mining time is .* old, beyond the .* an identity stays valid/);
    const missing = await runCli(['mine', '--resume', '--out', 'other.json'], dir);
    assert.equal(missing.code, 1);
    assert.match(oneLineReason(missing.stderr), /no readable mining state/);
  });
});

test('--engine auto times both engines before a long run and names the one it keeps', async () => {
  await withTempDir(async (dir) => {
    const r = await runCli(['mine', '--profile', 'devnet', '--difficulty', '12', '--workers', '2', '--out', 'id.json', '--no-progress'], dir, 120_000);
    assert.equal(r.code, 0, r.stderr);
    const note = /auto picked (\S+): (.*)/.exec(r.stderr);
    // With only one engine installed (no sodium-native, or ECD_NO_SODIUM) there is nothing to choose between.
    if (loadSodiumNative().ok) {
      assert.ok(note !== null, r.stderr);
      assert.match(note[2] as string, /native-sodium [0-9,.]+ H\/s, wasm-simd [0-9,.]+ H\/s/);
    } else {
      assert.equal(note, null, r.stderr);
    }
    const short = await runCli(['mine', '--profile', 'devnet', '--difficulty', '4', '--out', 'id2.json', '--no-progress'], dir, 60_000);
    assert.equal(short.code, 0, short.stderr);
    assert.doesNotMatch(short.stderr, /auto picked/, 'a short run starts at once');
  });
});
