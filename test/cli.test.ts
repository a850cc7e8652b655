import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { nobleIdentityCrypto } from '../wire/identity-crypto.js';
import { identitySigningMessage, type UnsignedIdentity } from '../wire/identity.js';
import { oneLineReason, runCli } from './helpers/cli.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const crypto = nobleIdentityCrypto();
let dir = '';
let idText = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecd-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

type IdJson = Record<string, unknown> & { nonce: string; public_key: string; signature: string; time: number; difficulty: number; secret_seed: string };

/** Writes a variant of the mined identity file and verifies it. */
async function verifyVariant(name: string, change: (o: IdJson) => void, extra: string[] = []): Promise<{ code: number | null; reason: string; stdout: string }> {
  const o = JSON.parse(idText) as IdJson;
  change(o);
  await writeFile(join(dir, name), JSON.stringify(o));
  const r = await runCli(['identity', 'verify', name, ...extra], dir);
  return { code: r.code, reason: r.code === 0 ? '' : oneLineReason(r.stderr), stdout: r.stdout };
}

const flipHex = (h: string, byte: number): string => {
  const b = Buffer.from(h, 'hex');
  b[byte] = b[byte]! ^ 0x01;
  return b.toString('hex');
};

describe('ecd CLI', () => {
  test('every command has --help', async () => {
    for (const args of [[], ['keygen'], ['mine'], ['identity'], ['identity', 'verify'], ['identity', 'show'], ['bench'], ['bench', 'kernels']]) {
      const r = await runCli([...args, '--help'], dir);
      assert.equal(r.code, 0, `${args.join(' ')} --help: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: ecd/m);
    }
  });

  test('mine --profile devnet finishes in seconds and writes a 0600 identity that verifies', async () => {
    const t0 = Date.now();
    const r = await runCli(['mine', '--profile', 'devnet', '--out', 'id.json', '--workers', '2'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 20_000);
    assert.match(r.stdout, /^address [0-9a-f]{64}$/m);
    const st = await stat(join(dir, 'id.json'));
    assert.equal(st.mode & 0o777, 0o600);
    idText = await readFile(join(dir, 'id.json'), 'utf8');
    const v = await runCli(['identity', 'verify', 'id.json'], dir);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^valid: devnet identity/);
    assert.ok(v.stdout.includes((JSON.parse(idText) as { address: string }).address));
  });

  test('mine --json prints exactly {address, difficulty, attempts, seconds, rate}', async () => {
    const r = await runCli(['mine', '--profile', 'devnet', '--difficulty', '6', '--out', 'id-json.json', '--json', '--engine', 'hash-wasm', '--workers', '1'], dir);
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(o), ['address', 'difficulty', 'attempts', 'seconds', 'rate']);
    assert.match(o['address'] as string, /^[0-9a-f]{64}$/);
    assert.equal(o['difficulty'], 6);
    assert.ok((o['attempts'] as number) >= 1);
    assert.equal((await runCli(['identity', 'verify', 'id-json.json'], dir)).code, 0);
  });

  test('mine refuses to overwrite without --force', async () => {
    const r = await runCli(['mine', '--profile', 'devnet', '--out', 'id.json'], dir);
    assert.equal(r.code, 1);
    assert.match(oneLineReason(r.stderr), /id\.json already exists.*--force/);
    assert.equal(await readFile(join(dir, 'id.json'), 'utf8'), idText);
  });

  test('flipping a byte of the nonce, key, time or signature fails with the right reason', async () => {
    const cases: [string, (o: IdJson) => void, RegExp][] = [
      ['nonce', (o) => (o.nonce = flipHex(o.nonce, 5)), /^bad signature/],
      ['key', (o) => (o.public_key = flipHex(o.public_key, 0)), /^bad signature/],
      ['key-last', (o) => (o.public_key = flipHex(o.public_key, 31)), /^bad signature/],
      ['time-low', (o) => (o.time ^= 1), /^bad signature/],
      ['time-future', (o) => (o.time += 2 * 86400), /^from the future/],
      ['time-old', (o) => (o.time -= 400 * 86400), /^too old/],
      ['signature', (o) => (o.signature = flipHex(o.signature, 0)), /^bad signature/],
      ['signature-s', (o) => (o.signature = flipHex(o.signature, 40)), /^bad signature/],
      ['difficulty-up', (o) => (o.difficulty += 1), /^bad signature/],
      ['malformed', (o) => (o.nonce = 'xyz'), /^malformed/],
    ];
    for (const [name, change, want] of cases) {
      const r = await verifyVariant(`flip-${name}.json`, change);
      assert.equal(r.code, 1, name);
      assert.match(r.reason, want, name);
    }
  });

  test('a correctly signed claim the work does not meet fails with insufficient work', async () => {
    const r = await verifyVariant('weak.json', (o) => {
      const u: UnsignedIdentity = {
        version: 1,
        networkId: 3n,
        publicKey: Buffer.from(o.public_key, 'hex'),
        nonce: Buffer.from(o.nonce, 'hex'),
        time: o.time,
        difficulty: 40,
      };
      o.difficulty = 40;
      const signer = crypto.ed25519.signerFromSeed(Buffer.from(o.secret_seed, 'hex'));
      o.signature = Buffer.from(signer.sign(identitySigningMessage(u))).toString('hex');
    });
    assert.equal(r.code, 1);
    assert.match(r.reason, /^insufficient work/);
  });

  test('verifying under another profile fails with wrong network; below d0 with insufficient difficulty', async () => {
    for (const p of ['mainnet', 'testnet']) {
      const r = await runCli(['identity', 'verify', 'id.json', '--profile', p], dir);
      assert.equal(r.code, 1);
      assert.match(oneLineReason(r.stderr), /^wrong network/);
    }
    const low = await runCli(['identity', 'verify', 'id.json', '--min-difficulty', '30'], dir);
    assert.equal(low.code, 1);
    assert.match(oneLineReason(low.stderr), /^insufficient difficulty/);
  });

  test('every field a file states is checked: a wrong address, a seed of another key, a profile of another network', async () => {
    const address = await verifyVariant('id-addr.json', (o) => {
      o['address'] = flipHex(String(o['address']), 0);
    });
    assert.equal(address.code, 1);
    assert.match(address.reason, /"address" .* is not the identity's address/);
    const seed = await verifyVariant('id-seed.json', (o) => {
      o.secret_seed = flipHex(o.secret_seed, 5);
    });
    assert.equal(seed.code, 1);
    assert.match(seed.reason, /"secret_seed" is not the key of its "public_key"/);
    const profile = await verifyVariant('id-profile.json', (o) => {
      o['profile'] = 'mainnet';
    }, ['--profile', 'devnet']);
    assert.equal(profile.code, 1);
    assert.match(profile.reason, /names profile "mainnet"/);
  });

  test('verify --json reports valid and invalid as one object', async () => {
    const ok = await runCli(['identity', 'verify', 'id.json', '--json'], dir);
    assert.equal(ok.code, 0);
    const o = JSON.parse(ok.stdout) as { valid: boolean; address: string };
    assert.equal(o.valid, true);
    const bad = await runCli(['identity', 'verify', 'id.json', '--json', '--profile', 'mainnet'], dir);
    assert.equal(bad.code, 1);
    assert.deepEqual(Object.keys(JSON.parse(bad.stdout) as object), ['valid', 'code', 'reason']);
    assert.equal((JSON.parse(bad.stdout) as { code: string }).code, 'WRONG_NETWORK');
  });

  test('identity show prints public fields and the address, never the secret', async () => {
    const secret = (JSON.parse(idText) as IdJson).secret_seed;
    const address = (JSON.parse(idText) as { address: string }).address;
    const text = await runCli(['identity', 'show', 'id.json'], dir);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.includes(address));
    assert.match(text.stdout, /public key/);
    const json = await runCli(['identity', 'show', 'id.json', '--json'], dir);
    assert.equal(json.code, 0);
    const o = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(o['address'], address);
    assert.equal(o['secret_seed'], undefined);
    for (const out of [text.stdout, text.stderr, json.stdout, json.stderr]) assert.ok(!out.includes(secret), 'secret leaked');
  });

  test('keygen writes a 0600 key file, refuses to overwrite, and mine --key uses it', async () => {
    const k = await runCli(['keygen', '--out', 'key.json', '--json'], dir);
    assert.equal(k.code, 0, k.stderr);
    const { public_key } = JSON.parse(k.stdout) as { public_key: string };
    assert.equal((await stat(join(dir, 'key.json'))).mode & 0o777, 0o600);
    const again = await runCli(['keygen', '--out', 'key.json'], dir);
    assert.equal(again.code, 1);
    assert.match(oneLineReason(again.stderr), /already exists/);
    assert.equal((await runCli(['keygen', '--out', 'key.json', '--force', '--json'], dir)).code, 0);
    const key2 = (JSON.parse(await readFile(join(dir, 'key.json'), 'utf8')) as { public_key: string }).public_key;
    assert.notEqual(key2, public_key);
    const m = await runCli(['mine', '--profile', 'devnet', '--key', 'key.json', '--out', 'id-key.json', '--workers', '1'], dir);
    assert.equal(m.code, 0, m.stderr);
    assert.equal((JSON.parse(await readFile(join(dir, 'id-key.json'), 'utf8')) as { public_key: string }).public_key, key2);
  });

  test('failures are one line with a non-zero exit and no stack trace', async () => {
    const missing = await runCli(['identity', 'verify', 'nope.json'], dir);
    assert.equal(missing.code, 1);
    assert.match(oneLineReason(missing.stderr), /^cannot read nope\.json/);
    await writeFile(join(dir, 'garbage.json'), 'not json');
    const garbage = await runCli(['identity', 'verify', 'garbage.json'], dir);
    assert.equal(garbage.code, 1);
    assert.match(oneLineReason(garbage.stderr), /^malformed/);
    const badOpt = await runCli(['mine', '--difficulty', 'x'], dir);
    assert.notEqual(badOpt.code, 0);
    assert.equal(badOpt.stderr.trim().split('\n').length, 1, badOpt.stderr);
    const below = await runCli(['mine', '--profile', 'devnet', '--difficulty', '1', '--out', 'low.json'], dir);
    assert.equal(below.code, 1);
    assert.match(oneLineReason(below.stderr), /below the devnet minimum/);
    const badKey = await runCli(['mine', '--profile', 'devnet', '--key', 'id.json.nope', '--out', 'k.json'], dir);
    assert.equal(badKey.code, 1);
    assert.match(oneLineReason(badKey.stderr), /^cannot read key/);
  });
});
