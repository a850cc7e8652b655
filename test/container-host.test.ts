/**
 * The container host (daemon/container-host.ts): pure parts and failure modes everywhere, and job
 * runs against a real Docker-compatible engine, found through ECD_CONTAINER_HOST and
 * ECD_TEST_IMAGE or the file tools/ci/container-host.sh writes. Without an engine these fail under
 * CI=true and are skipped, with the reason, elsewhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  checkJobSpec,
  ContainerHostError,
  createBody,
  EngineContainerHost,
  JOB_LIMITS,
  LogDemux,
  parseEndpoint,
  parseStatsSample,
  type ContainerHostErrorCode,
  type JobRunSpec,
} from '../daemon/container-host.js';
import { silentLogger } from '../daemon/log.js';
import { findEngine } from './helpers/container-engine.js';

const MiB = 1024 * 1024;

const target = findEngine();
const ci = process.env['CI'] === 'true';

async function rejectsWith(p: Promise<unknown>, code: ContainerHostErrorCode): Promise<ContainerHostError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ContainerHostError, `expected ContainerHostError(${code}), got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ContainerHostError(${code}), but it resolved`);
}

const jobId = (): string => randomBytes(32).toString('hex');

function spec(image: string, argv: string[], over: Partial<JobRunSpec> = {}): JobRunSpec {
  return { jobId: jobId(), imageId: image, argv, env: {}, nanoCpus: 500_000_000, memoryBytes: 64 * MiB, timeoutMs: 20_000, maxOutputBytes: 64 * 1024, network: false, ...over };
}

/** One multiplexed log frame. */
function frame(stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

// ——— no engine needed ———

describe('container host: pure parts', () => {
  test('endpoints: unix:///path and tcp://host:port; anything else is bad-endpoint', () => {
    assert.deepEqual(parseEndpoint('unix:///run/ecd-podman/podman.sock'), { kind: 'unix', path: '/run/ecd-podman/podman.sock' });
    assert.deepEqual(parseEndpoint('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseEndpoint('tcp://[::1]:2375'), { kind: 'tcp', host: '::1', port: 2375 });
    for (const bad of ['', '/run/x.sock', 'unix://relative', 'unix:///', 'tcp://127.0.0.1', 'tcp://127.0.0.1:0', 'tcp://h:70000', 'http://127.0.0.1:2375', 'ssh://u@h']) {
      assert.throws(() => parseEndpoint(bad), (e: unknown) => e instanceof ContainerHostError && e.code === 'bad-endpoint', bad);
    }
  });

  test('job specs: malformed fields are bad-spec before anything is sent', () => {
    const good = spec(`sha256:${'a'.repeat(64)}`, ['true']);
    checkJobSpec(good);
    const bad: Partial<Record<keyof JobRunSpec, unknown>>[] = [
      { jobId: 'A'.repeat(64) },
      { jobId: 'a'.repeat(63) },
      { imageId: 'busybox:latest' },
      { imageId: `sha256:${'a'.repeat(63)}` },
      { argv: [] },
      { argv: [''] },
      { argv: ['sh', 'a\0b'] },
      { env: { 'A=B': 'x' } },
      { env: { '1A': 'x' } },
      { env: { A: 'x\0' } },
      { nanoCpus: 1000 },
      { nanoCpus: 0.5e9 + 0.5 },
      { memoryBytes: MiB },
      { timeoutMs: 0 },
      { timeoutMs: JOB_LIMITS.maxTimeoutMs + 1 },
      { maxOutputBytes: -1 },
      { network: true },
      { argv: ['sh', 'x'.repeat(JOB_LIMITS.maxCommandBytes)] },
    ];
    for (const b of bad) {
      assert.throws(() => checkJobSpec({ ...good, ...b } as JobRunSpec), (e: unknown) => e instanceof ContainerHostError && e.code === 'bad-spec', JSON.stringify(b).slice(0, 80));
    }
  });

  test('the create body carries the strict defaults and the labels', () => {
    const s = spec(`sha256:${'b'.repeat(64)}`, ['/bin/prog', 'a b', ''], { env: { K: 'v=w' }, memoryBytes: 32 * MiB, nanoCpus: 250_000_000 });
    const body = createBody(s, 'd1') as { Entrypoint: string[]; Cmd: string[]; Env: string[]; Labels: Record<string, string>; HostConfig: Record<string, unknown> };
    assert.deepEqual(body.Entrypoint, ['/bin/prog']);
    assert.deepEqual(body.Cmd, ['a b', '']);
    assert.deepEqual(body.Env, ['K=v=w']);
    assert.deepEqual(body.Labels, { 'ecd.job': s.jobId, 'ecd.daemon': 'd1' });
    const hc = body.HostConfig;
    assert.equal(hc['NetworkMode'], 'none');
    assert.equal(hc['ReadonlyRootfs'], true);
    assert.equal(hc['PidsLimit'], 64);
    assert.equal(hc['Memory'], 32 * MiB);
    assert.equal(hc['MemorySwap'], 32 * MiB);
    assert.equal(hc['NanoCpus'], 250_000_000);
    assert.deepEqual(hc['CapDrop'], ['ALL']);
    assert.deepEqual(hc['SecurityOpt'], ['no-new-privileges']);
    assert.equal(hc['AutoRemove'], false);
    assert.deepEqual(hc['Ulimits'], [
      { Name: 'nofile', Soft: 1024, Hard: 1024 },
      { Name: 'nproc', Soft: 4096, Hard: 4096 },
    ]);
  });

  test('log demultiplexer: any split of the stream, per-stream cap and flag, other streams ignored', () => {
    const out = randomBytes(300);
    const err = randomBytes(50);
    const stream = Buffer.concat([frame(1, out.subarray(0, 100)), frame(2, err), frame(0, Buffer.from('stdin')), frame(3, Buffer.from('sys')), frame(1, out.subarray(100)), frame(1, Buffer.alloc(0))]);
    for (let cut = 0; cut <= stream.length; cut += 7) {
      for (const cap of [0, 1, 99, 100, 299, 300, 301]) {
        const d = new LogDemux(cap, [1, 2]);
        d.push(stream.subarray(0, cut));
        d.push(stream.subarray(cut));
        const o = d.output(1);
        const e = d.output(2);
        assert.deepEqual(o.bytes, out.subarray(0, cap), `cut ${cut} cap ${cap}`);
        assert.equal(o.truncated, cap < 300);
        assert.deepEqual(e.bytes, err.subarray(0, cap));
        assert.equal(e.truncated, cap < 50);
        assert.equal(d.full(), cap < 50);
      }
    }
    // Byte at a time.
    const d = new LogDemux(1000, [1]);
    for (const b of stream) d.push(Buffer.from([b]));
    assert.deepEqual(d.output(1).bytes, out);
    assert.equal(d.full(), false);
  });

  test('stats: Docker cgroup v1 (max_usage), Podman (usage only), stopped containers measure nothing', () => {
    const docker = { read: '2026-01-01T00:00:00Z', cpu_stats: { cpu_usage: { total_usage: 5e8 } }, memory_stats: { usage: 10 * MiB, max_usage: 20 * MiB }, pids_stats: { current: 3 } };
    assert.deepEqual(parseStatsSample(docker), { cpuNanos: 5e8, memoryBytes: 10 * MiB, maxMemoryBytes: 20 * MiB, pids: 3 });
    const podman = { read: '2026-01-01T00:00:00Z', cpu_stats: { cpu_usage: { total_usage: 7 } }, memory_stats: { usage: 729088, limit: 33554432 }, pids_stats: { current: 2 } };
    assert.deepEqual(parseStatsSample(podman), { cpuNanos: 7, memoryBytes: 729088, maxMemoryBytes: null, pids: 2 });
    assert.equal(parseStatsSample({ read: '0001-01-01T00:00:00Z', cpu_stats: { cpu_usage: { total_usage: 0 } }, memory_stats: {} }), null);
    assert.equal(parseStatsSample({}), null);
    assert.equal(parseStatsSample(null), null);
    assert.equal(parseStatsSample({ cpu_stats: { cpu_usage: { total_usage: -1 } }, memory_stats: { usage: 'x' } }), null);
  });
});

describe('container host: engine failures are typed and bounded', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  async function fakeEngine(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const s = createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `tcp://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }

  test('a socket that does not exist and a closed TCP port are unreachable', { timeout: 10_000 }, async () => {
    const a = new EngineContainerHost({ log: silentLogger() }, { endpoint: 'unix:///run/ecd-no-such-dir/nope.sock', daemonId: 't' });
    await rejectsWith(a.info(), 'unreachable');
    a.close();
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const b = new EngineContainerHost({ log: silentLogger() }, { endpoint: `tcp://127.0.0.1:${port}`, daemonId: 't' });
    await rejectsWith(b.listJobs(), 'unreachable');
    b.close();
  });

  test('an engine that never answers times out at the deadline; close() fails calls in flight', { timeout: 10_000 }, async () => {
    const endpoint = await fakeEngine(() => {}); // holds every request
    const h = new EngineContainerHost({ log: silentLogger() }, { endpoint, daemonId: 't', requestTimeoutMs: 300 });
    const t0 = Date.now();
    await rejectsWith(h.info(), 'timeout');
    assert.ok(Date.now() - t0 < 2_000, `deadline ${Date.now() - t0} ms`);
    const pending = h.listJobs();
    setTimeout(() => h.close(), 50);
    await rejectsWith(pending, 'closed');
    await rejectsWith(h.info(), 'closed');
  });

  test('garbage, oversized and error answers map to bad-response, not-found, conflict, engine-error', { timeout: 10_000 }, async () => {
    const id = 'c'.repeat(64);
    const endpoint = await fakeEngine((req, res) => {
      const url = req.url ?? '';
      if (url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.41' }));
      if (url.startsWith('/v1.41/info')) return res.end('not json');
      if (url.startsWith('/v1.41/containers/json')) {
        res.write('[');
        const chunk = Buffer.alloc(MiB, 0x20);
        for (let i = 0; i < 17; i++) res.write(chunk);
        return res.end(']');
      }
      if (url.includes('/kill')) {
        res.statusCode = 500;
        return res.end(JSON.stringify({ cause: 'container state improper', message: 'can only kill running containers' }));
      }
      if (url === `/v1.41/containers/${id}/json`) {
        res.statusCode = 404;
        return res.end(JSON.stringify({ message: 'no such container' }));
      }
      res.statusCode = 500;
      res.end(JSON.stringify({ message: 'boom' }));
    });
    const h = new EngineContainerHost({ log: silentLogger() }, { endpoint, daemonId: 't' });
    await rejectsWith(h.info(), 'bad-response');
    await rejectsWith(h.listJobs(), 'bad-response');
    assert.equal(await h.kill(id), false, 'kill of a container that is not running');
    await rejectsWith(h.wait(id, 1000), 'not-found');
    const e = await rejectsWith(h.remove(id), 'engine-error');
    assert.match(e.message, /boom/);
    await rejectsWith(h.wait('not-an-id', 1000), 'bad-spec');
    h.close();
  });

  test('wait follows the inspected state: Podman\'s stopped is an exit, a timeout kills, close() ends a wait between polls', { timeout: 10_000 }, async () => {
    const ids = { stops: 'd'.repeat(64), hangs: 'e'.repeat(64), created: 'f'.repeat(64), forever: '1'.repeat(64) };
    const inspects = new Map<string, number>();
    const killed = new Set<string>();
    const state = (Status: string, ExitCode = 0) => ({ State: { Status, ExitCode, StartedAt: '2026-01-01T00:00:00Z', FinishedAt: '2026-01-01T00:00:01Z', OOMKilled: false } });
    const endpoint = await fakeEngine((req, res) => {
      const url = req.url ?? '';
      if (url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.41' }));
      if (url.includes('/stats')) return res.end();
      const m = /^\/v1\.41\/containers\/([0-9a-f]{64})\/(json|kill)/.exec(url);
      if (m === null) {
        res.statusCode = 404;
        return res.end('{}');
      }
      const id = m[1]!;
      if (m[2] === 'kill') {
        killed.add(id);
        res.statusCode = 204;
        return res.end();
      }
      const n = (inspects.get(id) ?? 0) + 1;
      inspects.set(id, n);
      if (id === ids.stops) return res.end(JSON.stringify(n < 4 ? state('running') : state('stopped', 3)));
      if (id === ids.hangs) return res.end(JSON.stringify(killed.has(id) ? state('exited', 137) : state('running')));
      if (id === ids.created) return res.end(JSON.stringify(state('created')));
      res.end(JSON.stringify(state('running')));
    });
    const h = new EngineContainerHost({ log: silentLogger() }, { endpoint, daemonId: 't' });
    const stopped = await h.wait(ids.stops, 5_000);
    assert.deepEqual({ state: stopped.state, exitCode: stopped.exitCode, killReason: stopped.killReason }, { state: 'exited', exitCode: 3, killReason: null });
    assert.equal(inspects.get(ids.stops), 4);
    const timedOut = await h.wait(ids.hangs, 200);
    assert.equal(timedOut.state, 'killed');
    assert.equal(timedOut.killReason, 'timeout');
    await rejectsWith(h.wait(ids.created, 5_000), 'conflict');
    const pending = h.wait(ids.forever, 5_000);
    setTimeout(() => h.close(), 200);
    await rejectsWith(pending, 'closed');
    assert.ok(!killed.has(ids.forever));
  });

  test('an engine older than API 1.41 is refused', { timeout: 5_000 }, async () => {
    const endpoint = await fakeEngine((_req, res) => res.end(JSON.stringify({ ApiVersion: '1.40' })));
    const h = new EngineContainerHost({ log: silentLogger() }, { endpoint, daemonId: 't' });
    await rejectsWith(h.info(), 'refused');
    h.close();
  });
});

// ——— against the real engine ———

if (!target.ok && ci) {
  test('a container engine is configured (required under CI=true)', () => {
    assert.fail(`${target.why}. .ci/run sources tools/ci/container-host.sh before npm test.`);
  });
}

describe('container host against the real engine', { skip: target.ok ? false : target.why }, () => {
  const endpoint = target.ok ? target.endpoint : '';
  const image = target.ok ? target.image : '';
  const daemonId = `test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const hosts: EngineContainerHost[] = [];
  let host: EngineContainerHost;

  function newHost(id = daemonId): EngineContainerHost {
    const h = new EngineContainerHost({ log: silentLogger() }, { endpoint, daemonId: id });
    hosts.push(h);
    return h;
  }

  /** Runs a job to its end, reads its logs and usage, removes it. */
  async function runJob(argv: string[], over: Partial<JobRunSpec> = {}) {
    const s = spec(image, argv, over);
    const { containerId } = await host.run(s);
    try {
      const result = await host.wait(containerId, s.timeoutMs);
      const usage = await host.stats(containerId);
      const logs = await host.logs(containerId, 'both', s.maxOutputBytes);
      return { result, usage, logs, containerId };
    } finally {
      await host.remove(containerId);
    }
  }

  /** After a hostile job: the engine answers and a normal job runs. */
  async function assertHealthy(): Promise<void> {
    await host.info();
    const { result, logs } = await runJob(['echo', 'still fine']);
    assert.equal(result.state, 'exited');
    assert.equal(result.exitCode, 0);
    assert.equal(logs.stdout.bytes.toString(), 'still fine\n');
  }

  before(async () => {
    host = newHost();
    try {
      await host.info();
    } catch (e) {
      throw new Error(`the container engine at ${endpoint} does not answer (${String(e)}); start it with tools/ci/container-host.sh`);
    }
  });

  after(async () => {
    const cleaner = newHost();
    for (const j of await cleaner.listJobs().catch(() => [])) await cleaner.remove(j.containerId).catch(() => false);
    for (const h of hosts) h.close();
  });

  test('info: CPUs, memory, engine, cgroup version', { timeout: 15_000 }, async () => {
    const i = await host.info();
    assert.ok(i.ncpu >= 1 && Number.isInteger(i.ncpu));
    assert.ok(i.memTotal > 64 * MiB);
    assert.ok(i.engine === 'podman' || i.engine === 'docker', i.engine);
    assert.match(i.engineVersion, /^\d+\.\d+/);
    assert.match(i.apiVersion, /^1\.\d+$/);
    assert.ok(i.cgroupVersion === 1 || i.cgroupVersion === 2);
  });

  test('info over TCP: the same engine behind a loopback TCP proxy', { timeout: 15_000 }, async () => {
    const ep = parseEndpoint(endpoint);
    if (ep.kind !== 'unix') return; // already TCP
    const proxy = createTcpServer((c) => {
      const u = connect(ep.path);
      c.pipe(u).pipe(c);
      u.on('error', () => c.destroy());
      c.on('error', () => u.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const tcp = new EngineContainerHost({ log: silentLogger() }, { endpoint: `tcp://127.0.0.1:${(proxy.address() as AddressInfo).port}`, daemonId });
      hosts.push(tcp);
      const [a, b] = await Promise.all([tcp.info(), host.info()]);
      assert.deepEqual(a, b);
      tcp.close();
    } finally {
      proxy.close();
    }
  });

  test('imageId: the full id for an id, null for an unknown id or name (nothing is pulled)', { timeout: 15_000 }, async () => {
    assert.equal(await host.imageId(image), image);
    assert.equal(await host.imageId(image.slice('sha256:'.length, 'sha256:'.length + 12)), image);
    assert.equal(await host.imageId(`sha256:${'0'.repeat(64)}`), null);
    assert.equal(await host.imageId('ecd-no-such-image:never'), null);
    await rejectsWith(host.imageId('../../etc'), 'bad-spec');
    await rejectsWith(host.run(spec(`sha256:${'0'.repeat(64)}`, ['true'])), 'not-found');
  });

  test('a job: stdout, stderr and exit code; usage measured; the strict defaults seen from inside', { timeout: 30_000 }, async () => {
    const script = [
      'echo out; echo err >&2',
      'echo "nofile=$(ulimit -n)"',
      'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status',
      'if touch /rootfs-write 2>/dev/null; then echo root=rw; else echo root=ro; fi',
      'echo hi > /tmp/t && echo tmp=$(cat /tmp/t)',
      'echo "links=$(ls /sys/class/net | tr "\\n" " ")"',
      'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done',
      'exit 7',
    ].join('\n');
    const { result, usage, logs } = await runJob(['sh', '-c', script]);
    assert.equal(result.state, 'exited');
    assert.equal(result.exitCode, 7);
    assert.equal(result.killReason, null);
    assert.ok(result.startedAt > 0 && result.finishedAt >= result.startedAt, JSON.stringify(result));
    const out = logs.stdout.bytes.toString();
    assert.equal(logs.stderr.bytes.toString(), 'err\n');
    assert.equal(logs.stdout.truncated, false);
    assert.match(out, /^out\n/);
    assert.match(out, /nofile=1024\n/);
    assert.match(out, /CapEff:\s+0000000000000000\n/);
    assert.match(out, /NoNewPrivs:\s+1\n/);
    assert.match(out, /root=ro\n/);
    assert.match(out, /tmp=hi\n/);
    assert.match(out, /links=lo \n/);
    assert.ok(usage.samples >= 1, `samples ${usage.samples}`);
    assert.ok(usage.cpuNanos > 0 && usage.peakMemoryBytes > 0 && usage.peakMemoryBytes <= 64 * MiB, JSON.stringify(usage));
  });

  test('argv and env are passed exactly, output comes back byte for byte', { timeout: 20_000 }, async () => {
    const args = ['a b', '"q"', "'s'", 'line1\nline2', '*', '$HOME', '', 'ünï €', '-n', '\\t'];
    const env = { V1: ' lead and trail ', V2: 'x=y;$(echo no)', V3: '', V4: 'ünï\nnl' };
    const allBytes = Array.from({ length: 256 }, (_, i) => `\\${i.toString(8).padStart(3, '0')}`).join('');
    const script = `for a in "$@"; do printf "%s\\0" "$a"; done; printf "%s\\0" "$V1" "$V2" "$V3" "$V4"; printf '${allBytes}\\r\\nx\\r' >&2`;
    const { result, logs } = await runJob(['sh', '-c', script, 'job', ...args], { env });
    assert.equal(result.exitCode, 0);
    const parts = logs.stdout.bytes.toString('utf8').split('\0');
    assert.equal(parts.pop(), '');
    assert.deepEqual(parts, [...args, env.V1, env.V2, env.V3, env.V4]);
    // Every byte value, CR LF, and no newline at the end.
    assert.deepEqual(logs.stderr.bytes, Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('\r\nx\r')]));
  });

  test('hostile: a fork bomb is held at the pids limit, killed at its timeout; the host stays healthy', { timeout: 40_000 }, async () => {
    const s = spec(image, ['sh', '-c', 'b() { b | b & }; b; sleep 600'], { timeoutMs: 4_000 });
    const { containerId } = await host.run(s);
    try {
      const waiting = host.wait(containerId, s.timeoutMs);
      await new Promise((r) => setTimeout(r, 1_500));
      const t0 = Date.now();
      await host.info(); // the engine answers during the bomb
      assert.ok(Date.now() - t0 < 5_000, `info took ${Date.now() - t0} ms during the bomb`);
      const result = await waiting;
      const usage = await host.stats(containerId);
      assert.equal(result.state, 'killed');
      assert.equal(result.killReason, 'timeout');
      assert.ok(usage.peakPids > 8 && usage.peakPids <= JOB_LIMITS.pidsLimit, `peak pids ${usage.peakPids}`);
    } finally {
      await host.remove(containerId);
    }
    await assertHealthy();
  });

  test('hostile: a memory hog is killed by the memory limit and reported as oom', { timeout: 40_000 }, async () => {
    const { result, usage } = await runJob(['sh', '-c', 'x=a; while :; do x=$x$x; done'], { memoryBytes: 32 * MiB, timeoutMs: 20_000 });
    assert.equal(result.state, 'killed');
    assert.equal(result.exitCode, 137);
    assert.equal(result.killReason, 'oom');
    // cgroup v1 Podman leaves State.OOMKilled false: then the evidence is a SIGKILL we did not send.
    assert.ok(result.killReason === 'oom' && (result.oomEvidence === 'engine' || result.oomEvidence === 'sigkill'));
    assert.ok(usage.peakMemoryBytes <= 32 * MiB, `peak ${usage.peakMemoryBytes}`);
    await assertHealthy();
  });

  test('hostile: an endless loop is killed at its timeout, held to its CPU share', { timeout: 40_000 }, async () => {
    const t0 = Date.now();
    const { result, usage } = await runJob(['sh', '-c', 'while :; do :; done'], { nanoCpus: 500_000_000, timeoutMs: 2_500 });
    const took = Date.now() - t0;
    assert.equal(result.state, 'killed');
    assert.equal(result.killReason, 'timeout');
    assert.equal(result.exitCode, 137);
    const ran = result.finishedAt - result.startedAt;
    assert.ok(ran >= 1_500 && ran < 2_500 + 10_000, `ran ${ran} ms`);
    assert.ok(took < 2_500 + 20_000, `took ${took} ms`);
    // Half a CPU: at most ~0.5 ns of CPU per ns of wall time (20 % slack for sampling).
    assert.ok(usage.cpuNanos > 0 && usage.cpuNanos <= ran * 1e6 * 0.5 * 1.2, `cpu ${usage.cpuNanos} ns in ${ran} ms`);
    await assertHealthy();
  });

  test('hostile: 1 GB on stdout, read back truncated at the cap with bounded memory', { timeout: 120_000 }, async () => {
    const cap = MiB;
    const s = spec(image, ['sh', '-c', 'head -c 1000000000 /dev/zero; echo done >&2'], { timeoutMs: 100_000, maxOutputBytes: cap });
    const { containerId } = await host.run(s);
    try {
      const result = await host.wait(containerId, s.timeoutMs);
      assert.equal(result.state, 'exited', JSON.stringify(result));
      assert.equal(result.exitCode, 0);
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      const t0 = Date.now();
      const logs = await host.logs(containerId, 'both', cap);
      const rssGrowth = process.memoryUsage().rss - rss0;
      assert.equal(logs.stdout.bytes.length, cap);
      assert.equal(logs.stdout.truncated, true);
      assert.ok(logs.stdout.bytes.every((b) => b === 0));
      assert.equal(logs.stderr.bytes.toString(), 'done\n');
      assert.equal(logs.stderr.truncated, false);
      assert.ok(rssGrowth < 64 * MiB, `rss grew by ${(rssGrowth / MiB).toFixed(1)} MiB`);
      assert.ok(Date.now() - t0 < 60_000, `logs took ${Date.now() - t0} ms`);
    } finally {
      await host.remove(containerId);
    }
    await assertHealthy();
  });

  test('hostile: the network is unreachable (only lo; wget and nc to the host fail)', { timeout: 40_000 }, async () => {
    let connections = 0;
    const listener = createTcpServer((c) => {
      connections++;
      c.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '0.0.0.0', r));
    const port = (listener.address() as AddressInfo).port;
    const hostIp =
      Object.values(networkInterfaces())
        .flat()
        .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';
    try {
      const script = [
        'echo "links=$(ls /sys/class/net | tr "\\n" " ")"',
        'if wget -q -T 2 -O /dev/null http://10.0.0.1/; then echo wget=ok; else echo wget=failed; fi',
        `if echo hi | nc -w 2 ${hostIp} ${port}; then echo nc-host=ok; else echo nc-host=failed; fi`,
        `if echo hi | nc -w 2 127.0.0.1 ${port}; then echo nc-lo=ok; else echo nc-lo=failed; fi`,
      ].join('\n');
      const { result, logs } = await runJob(['sh', '-c', script], { timeoutMs: 20_000 });
      const out = logs.stdout.bytes.toString();
      assert.equal(result.state, 'exited', out);
      assert.match(out, /links=lo \n/);
      assert.match(out, /wget=failed\n/);
      assert.match(out, /nc-host=failed\n/);
      assert.match(out, /nc-lo=failed\n/);
      assert.equal(connections, 0);
    } finally {
      listener.close();
    }
    await assertHealthy();
  });

  test('owner kill: reported as owner; a kill that finds the job gone changes nothing', { timeout: 30_000 }, async () => {
    const s = spec(image, ['sleep', '600']);
    const { containerId } = await host.run(s);
    try {
      assert.equal(await host.kill(containerId), true);
      const result = await host.wait(containerId, 10_000);
      assert.equal(result.state, 'killed');
      assert.equal(result.killReason, 'owner');
      assert.equal(await host.kill(containerId), false);
    } finally {
      await host.remove(containerId);
    }
    // A job that ends with 137 by itself reads as an OOM kill (documented); a late owner kill
    // does not turn it into an owner kill.
    const self = await host.run(spec(image, ['sh', '-c', 'exit 137']));
    try {
      const first = await host.wait(self.containerId, 10_000);
      assert.ok(first.killReason === 'oom' && first.oomEvidence === 'sigkill', JSON.stringify(first));
      assert.equal(await host.kill(self.containerId), false);
      assert.equal((await host.wait(self.containerId, 10_000)).killReason, 'oom');
    } finally {
      await host.remove(self.containerId);
    }
  });

  test('reconciliation: listJobs after a restart (own containers only, with state), wait finishes, remove cleans up', { timeout: 40_000 }, async () => {
    const first = newHost(`${daemonId}-r`);
    const running = spec(image, ['sleep', '600']);
    const done = spec(image, ['sh', '-c', 'echo bye; exit 3']);
    const a = await first.run(running);
    const b = await first.run(done);
    await first.wait(b.containerId, 10_000);
    await rejectsWith(first.run(running), 'conflict'); // the same job twice
    first.close(); // the daemon "crashes"

    const restarted = newHost(`${daemonId}-r`);
    const jobs = await restarted.listJobs();
    const byJob = new Map(jobs.map((j) => [j.jobId, j]));
    assert.equal(jobs.length, 2, JSON.stringify(jobs));
    assert.deepEqual(byJob.get(running.jobId), { containerId: a.containerId, jobId: running.jobId, state: 'running' });
    assert.deepEqual(byJob.get(done.jobId), { containerId: b.containerId, jobId: done.jobId, state: 'exited' });
    assert.deepEqual(await newHost(`${daemonId}-other`).listJobs(), [], 'another daemon sees none of them');

    const finished = await restarted.wait(b.containerId, 5_000);
    assert.equal(finished.exitCode, 3);
    assert.equal((await restarted.logs(b.containerId, 'stdout', 100)).stdout.bytes.toString(), 'bye\n');
    assert.equal(await restarted.remove(a.containerId), true); // a running orphan
    assert.equal(await restarted.remove(b.containerId), true);
    assert.equal(await restarted.remove(b.containerId), false);
    assert.deepEqual(await restarted.listJobs(), []);
    await rejectsWith(restarted.wait(a.containerId, 1_000), 'not-found');
    await rejectsWith(restarted.stats(a.containerId), 'not-found');
    await rejectsWith(restarted.logs(a.containerId, 'both', 10), 'not-found');
  });
});
