/**
 * Compute jobs end to end on a real container engine (Podman through its Docker Engine API):
 * four daemons on loopback (four: the +2 rule commits nothing among three), n2 and n3 providers
 * on the engine, n1 a client without one. Jobs
 * submitted at n1 run on a provider's host and come back with output and a signed receipt that
 * `ecd job verify` accepts offline and refuses with any byte changed; hostile jobs are contained
 * and reported; a provider killed with SIGKILL mid-job finishes every job after its restart and
 * leaves no container; malformed requests change nothing; spot checks compare two providers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EngineContainerHost } from '../daemon/container-host.js';
import { silentLogger } from '../daemon/log.js';
import { loadIdentityCrypto } from '../wire/identity-crypto.js';
import { verifyJobMessage } from '../wire/msg-jobs.js';
import { decodeReceiptFile } from '../wire/receipt-file.js';
import { encodeBody } from '../wire/messages.js';
import { receiptToken } from '../daemon/jobs/api.js';
import { PROFILES } from '../wire/profiles.js';
import { Testnet } from '../tools/testnet.js';
import { runCli, type CliRun } from './helpers/cli.js';
import { findEngine, requireEngineInCi } from './helpers/container-engine.js';

const engine = findEngine();
const PROVIDERS = [1, 2];

let net: Testnet | undefined;
let dir = '';

test('a container engine is configured (required under CI=true)', { skip: !requireEngineInCi && !engine.ok ? (engine as { why: string }).why : false }, () => {
  assert.ok(engine.ok, engine.ok ? '' : engine.why);
});

describe('compute jobs between daemons', { skip: engine.ok ? false : (engine as { why: string }).why }, () => {
  const image = engine.ok ? engine.image : '';
  const endpoint = engine.ok ? engine.endpoint : '';

  before(
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'ecd-jobs-e2e-'));
      net = await Testnet.create({
        nodes: 4,
        dir: join(dir, 'net'),
        profile: PROFILES.devnet,
        store: 'lmdb',
        logLevel: 'warn',
        nodeArgs: (i) => (PROVIDERS.includes(i) ? ['--container-host', endpoint, '--job-image', image] : []),
      });
      await net.start(60_000);
      await net.waitConnected(30_000);
    },
    { timeout: 120_000 },
  );

  after(
    async () => {
      if (net === undefined) return;
      const codes = await net.stop(15_000);
      // A job still running when its provider stopped stays with the engine for the next start to
      // adopt; this network does not start again, so its providers' containers go now.
      for (const i of PROVIDERS) {
        const host = new EngineContainerHost({ log: silentLogger() }, { endpoint, daemonId: (net.nodes[i] as Testnet['nodes'][number]).publicKey });
        try {
          for (const c of await host.listJobs()) await host.remove(c.containerId);
        } finally {
          host.close();
        }
      }
      if (process.env['ECD_KEEP_TESTNET'] !== '1') await rm(dir, { recursive: true, force: true });
      assert.ok(codes.every((c) => c === 0 || c === null), `daemons exited with ${codes.join(',')}`);
    },
    { timeout: 60_000 },
  );

  const node = (i: number): Testnet['nodes'][number] => (net as Testnet).nodes[i] as Testnet['nodes'][number];
  const cli = (args: readonly string[], timeoutMs = 120_000): Promise<CliRun> => runCli(args, dir, timeoutMs);
  const at0 = ['--node', (): string => node(0).dir] as const;
  const n1 = (): string[] => [at0[0], at0[1]()];
  function json<T = Record<string, unknown>>(r: CliRun): T {
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }
  async function api(i: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const n = node(i);
    const res = await fetch(`${n.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${(await readFile(n.tokenFile, 'utf8')).trim()}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  async function waitFinal(id: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const j = json(await cli(['job', 'status', id, '--wait', '10s', '--json', ...n1()]));
      if (j['final'] === true && j['output'] !== 'fetching') return j;
      assert.ok(Date.now() < deadline, `job ${id} not final: ${JSON.stringify(j)}`);
    }
  }

  test('n1 hears both providers’ offers', { timeout: 30_000 }, async () => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const o = json<{ offers: { provider: string; images: string[] }[] }>(await cli(['job', 'offers', '--json', ...n1()]));
      const keys = new Set(o.offers.map((x) => x.provider));
      if (PROVIDERS.every((i) => keys.has(node(i).publicKey))) {
        for (const x of o.offers) assert.deepEqual(x.images, [image]);
        return;
      }
      assert.ok(Date.now() < deadline, `offers seen: ${JSON.stringify(o.offers.map((x) => x.provider))}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  test('a job runs on a provider; output and a receipt come back; verify accepts it offline and refuses any changed byte', { timeout: 90_000 }, async () => {
    const r = json<{ id: string; provider: string; job: Record<string, unknown>; stdout: string; stderr: string }>(
      await cli(['job', 'submit', '--image', image, '--env', 'WHO=world', '--wait', '--json', ...n1(), '--', 'sh', '-c', 'echo hello $WHO; echo oops >&2; exit 3']),
    );
    assert.ok(PROVIDERS.some((i) => node(i).publicKey === r.provider));
    assert.equal(r.job['state'], 'exited');
    assert.equal(r.job['exitCode'], 3);
    assert.equal(r.stdout, 'hello world\n');
    assert.equal(r.stderr, 'oops\n');
    const file = join(dir, 'receipt.bin');
    json(await cli(['job', 'receipt', r.id, '--out', file, '--json', ...n1()]));
    await writeFile(join(dir, 'out.txt'), 'hello world\n');
    await writeFile(join(dir, 'wrong.txt'), 'hello World\n');
    const v = json<{ valid: boolean; exitCode: number }>(await cli(['job', 'verify', file, '--stdout', join(dir, 'out.txt'), '--json']));
    assert.equal(v.valid, true);
    assert.equal(v.exitCode, 3);
    assert.equal((await cli(['job', 'verify', file, '--stdout', join(dir, 'wrong.txt')])).code, 1);
    // Every byte of the receipt file, changed, is refused (checked in-process; three through the CLI).
    const bytes = new Uint8Array(await readFile(file));
    const crypto = await loadIdentityCrypto();
    for (let i = 0; i < bytes.length; i++) {
      const bad = Uint8Array.from(bytes);
      bad[i] = (bad[i] as number) ^ 0x01;
      const d = decodeReceiptFile(bad);
      assert.ok(!d.ok || !verifyJobMessage(crypto.ed25519, d.networkId, d.receipt), `byte ${i} changed and the receipt still verifies`);
    }
    // Anchoring: the receipt token is created by a committed block, once.
    const a = json<{ token: string; block: string; status: string }>(await cli(['job', 'anchor', r.id, '--wait', '--json', ...n1()]));
    assert.equal(a.status, 'committed');
    const d0 = decodeReceiptFile(bytes);
    assert.ok(d0.ok);
    assert.equal(a.token, Buffer.from(receiptToken(crypto.blake3, encodeBody(d0.receipt))).toString('hex'));
    const again = json<{ block: string }>(await cli(['job', 'anchor', r.id, '--json', ...n1()]));
    assert.equal(again.block, a.block, 'a second anchor is the same block');
    const mapping = json<{ block: string }>(await cli(['token', 'get', a.token, '--json', ...n1()]));
    assert.equal(mapping.block, a.block);
    for (const i of [0, 20, bytes.length - 1]) {
      const bad = Buffer.from(bytes);
      bad[i] = (bad[i] as number) ^ 0x01;
      await writeFile(join(dir, 'bad.bin'), bad);
      const c = await cli(['job', 'verify', join(dir, 'bad.bin')]);
      assert.equal(c.code, 1, `byte ${i}: ${c.stdout}`);
    }
  });

  test('hostile jobs are contained and reported; the provider stays healthy', { timeout: 180_000 }, async () => {
    const p = node(1).publicKey;
    // `submit --wait` exits 0 for a job that ran to its end, 1 for one that was killed.
    const run = async (argv: string[], extra: string[] = []): Promise<Record<string, unknown>> => {
      const c = await cli(['job', 'submit', '--image', image, '--provider', p, '--wait', '--json', ...extra, ...n1(), '--', ...argv]);
      const job = (JSON.parse(c.stdout) as { job: Record<string, unknown> }).job;
      assert.equal(c.code, job['state'] === 'exited' ? 0 : 1, `exit ${c.code} for a ${String(job['state'])} job: ${c.stderr}`);
      return job;
    };
    const bomb = await run(['sh', '-c', 'f() { f | f & }; f; sleep 30'], ['--timeout', '5s']);
    assert.equal(bomb['state'], 'killed');
    const hog = await run(['sh', '-c', 'x=a; while true; do x=$x$x; done'], ['--memory', '32m', '--timeout', '30s']);
    assert.equal(hog['state'], 'killed');
    assert.equal(hog['killReason'], 'oom');
    const loop = await run(['sh', '-c', 'while :; do :; done'], ['--timeout', '3s']);
    assert.equal(loop['state'], 'killed');
    assert.equal(loop['killReason'], 'timeout');
    const flood = await run(['sh', '-c', 'head -c 8388608 /dev/zero; echo end >&2'], ['--max-output', '64k']);
    assert.equal(flood['state'], 'exited');
    assert.equal((flood['receipt'] as Record<string, number>)['stdoutBytes'], 65536);
    const net = await run(['sh', '-c', 'wget -T 2 -q -O- http://10.0.0.1/ || nc -w 2 127.0.0.1 1 </dev/null; ip link 2>/dev/null | grep -c "^[0-9]"'], ['--timeout', '20s']);
    assert.equal(net['state'], 'exited');
    const fine = await run(['echo', 'still fine']);
    assert.equal(fine['state'], 'exited');
    assert.equal(fine['exitCode'], 0);
  });

  test('malformed requests get a 4xx with the reason and change nothing', { timeout: 30_000 }, async () => {
    const before = (await api(0, 'GET', '/v1/jobs')).body['jobs'] as unknown[];
    for (const [body, want] of [
      ['{not json', /not valid JSON/],
      [{ argv: ['true'] }, /"image"/],
      [{ image, argv: [] }, /"argv"/],
      [{ image, argv: ['true'], colour: 'red' }, /unknown field "colour"/],
      [{ image, argv: ['true'], env: ['no-equals'] }, /NAME=value/],
      [{ image, argv: ['true'], memory: 1 }, /"memory"/],
      [{ image, argv: ['x'.repeat(1000), 'y'.repeat(1000)] }, /does not fit one frame/],
    ] as const) {
      const r = await api(0, 'POST', '/v1/jobs', body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(String(r.body['reason']), want);
    }
    const refused = await api(0, 'POST', '/v1/jobs', { image: 'ab'.repeat(32), argv: ['true'], provider: node(1).publicKey });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(String(refused.body['reason']), /image-not-allowed/);
    assert.equal((await api(0, 'GET', `/v1/jobs/${'00'.repeat(32)}`)).status, 404);
    const usage = await cli(['job', 'submit', '--image', image, '--memory', 'lots', ...n1(), '--', 'true']);
    assert.equal(usage.code, 2);
    const afterJobs = (await api(0, 'GET', '/v1/jobs')).body['jobs'] as { state: string }[];
    assert.equal(afterJobs.length, before.length + 1, 'only the refused job is recorded');
    assert.equal(afterJobs.filter((j) => j.state === 'refused').length, 1);
  });

  test('cancel kills a running job (killed: owner)', { timeout: 60_000 }, async () => {
    const s = json<{ id: string }>(await cli(['job', 'submit', '--image', image, '--provider', node(2).publicKey, '--json', ...n1(), '--', 'sleep', '30']));
    const deadline = Date.now() + 20_000;
    while ((await api(0, 'GET', `/v1/jobs/${s.id}`)).body['state'] !== 'running') {
      assert.ok(Date.now() < deadline, 'never running');
      await new Promise((r) => setTimeout(r, 200));
    }
    json(await cli(['job', 'cancel', s.id, '--json', ...n1()]));
    const j = await waitFinal(s.id);
    assert.equal(j['state'], 'killed');
    assert.equal(j['killReason'], 'owner');
  });

  test('SIGKILL the provider mid-job: after restart every job ends, no container is left, no receipt lost', { timeout: 120_000 }, async () => {
    const p = node(2).publicKey;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(json<{ id: string }>(await cli(['job', 'submit', '--image', image, '--provider', p, '--cpu', '0.5', '--json', ...n1(), '--', 'sh', '-c', `sleep ${6 + i}; echo done ${i}`])).id);
    const deadline = Date.now() + 60_000;
    for (const id of ids) {
      while (['submitted', 'accepted'].includes(String((await api(0, 'GET', `/v1/jobs/${id}`)).body['state']))) {
        assert.ok(Date.now() < deadline, `${id} never running`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await (net as Testnet).stopNode(2, 'SIGKILL');
    await (net as Testnet).restartNode(2);
    for (const [i, id] of ids.entries()) {
      const j = await waitFinal(id, 60_000);
      assert.equal(j['state'], 'exited', JSON.stringify(j));
      assert.ok(j['receipt'] !== null, 'receipt lost');
      const logs = json<{ stdout: string }>(await cli(['job', 'logs', id, '--json', ...n1()]));
      assert.equal(logs.stdout, `done ${i}\n`);
    }
    const host = new EngineContainerHost({ log: silentLogger() }, { endpoint, daemonId: p });
    try {
      assert.deepEqual(await host.listJobs(), [], 'containers left behind');
    } finally {
      host.close();
    }
  });

  test('spot checks: a deterministic job agrees across two providers; a nondeterministic one disputes both', { timeout: 120_000 }, async () => {
    const same = json<{ id: string }>(await cli(['job', 'submit', '--image', image, '--spot-check', '--json', ...n1(), '--', 'echo', 'same everywhere']));
    const nondet = json<{ id: string }>(await cli(['job', 'submit', '--image', image, '--spot-check', '--json', ...n1(), '--', 'sh', '-c', 'cat /proc/sys/kernel/random/uuid']));
    for (const [id, want] of [
      [same.id, true],
      [nondet.id, false],
    ] as const) {
      const deadline = Date.now() + 60_000;
      let j = await waitFinal(id);
      while (j['spotMatch'] === undefined) {
        assert.ok(Date.now() < deadline, `no spot check verdict for ${id}: ${JSON.stringify(j)}`);
        await new Promise((r) => setTimeout(r, 300));
        j = (await api(0, 'GET', `/v1/jobs/${id}`)).body;
      }
      assert.equal(j['spotMatch'], want);
      const spot = (await api(0, 'GET', `/v1/jobs/${String(j['spotCheck'])}`)).body;
      assert.notEqual(spot['provider'], j['provider'], 'the spot check ran on the same provider');
    }
    const providers = json<{ providers: { provider: string; disputed: number; completed: number }[] }>(await cli(['job', 'providers', '--json', ...n1()]));
    for (const i of PROVIDERS) {
      const t = providers.providers.find((x) => x.provider === node(i).publicKey);
      assert.ok(t !== undefined && t.completed > 0 && t.disputed >= 1, JSON.stringify(providers));
    }
  });
});
