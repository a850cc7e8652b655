/**
 * A stub control API (docs/api.md) for client tests: one in-process HTTP server on 127.0.0.1 that
 * validates submitted blocks with wire/block.ts and consensus/validate.ts against the blocks it
 * holds, "commits" them after a delay (first of two conflicting blocks wins, the other is
 * blocked), and serves the block, token, history, status and metrics routes. Long polls
 * (`?waitMs=`) are held until the block is terminal or the wait ends.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkAgainstParents, checkStandalone } from '../../consensus/validate.js';
import { blockId, decodeSignedBlock, encodeSignedBlock, isZero, type Block, type SignedBlock } from '../../wire/block.js';
import { toHex } from '../../wire/identity-file.js';
import { testBlake3, testEd25519 } from './noble-crypto.js';

/** Blocks and mappings; several stubs may share one to act as daemons of one network. */
export class StubLedger {
  readonly blocks = new Map<string, StubBlock>();
  readonly mappings = new Map<string, Mapping>();
  seq = 0;
  readonly listeners = new Set<() => void>();
  notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

export interface StubOptions {
  readonly ledger?: StubLedger;
  /** Reported as peers.connected in /v1/status (default 0). */
  readonly connected?: number;
  /** A faulty daemon: commits every valid block, conflicts or not (for negative tests). */
  readonly ignoreConflicts?: boolean;
  readonly token?: string;
  readonly networkId?: bigint;
  /** Delay before a pending block commits; null = never (to test wait timeouts). */
  readonly commitDelayMs?: number | null;
  /** Requests to these paths are never answered (to test client timeouts). */
  readonly hangPaths?: readonly string[];
}

export interface StubBlock {
  readonly id: string;
  readonly signed: SignedBlock;
  status: 'pending' | 'committed' | 'blocked';
  seq?: number;
}

export interface Mapping {
  block: string;
  parent: string;
  time: number;
  seq: number;
}

export class StubApi {
  readonly token: string;
  readonly networkId: bigint;
  url = '';
  readonly ledger: StubLedger;
  /** Every request: method, path, whether authorised. */
  readonly requests: { method: string; path: string; authorised: boolean }[] = [];
  private readonly server: Server;
  private readonly commitDelayMs: number | null;
  private readonly hangPaths: readonly string[];
  private readonly waiters = new Set<() => void>();
  private readonly connected: number;
  private readonly ignoreConflicts: boolean;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly hanging = new Set<ServerResponse>();
  private stopping = false;

  constructor(opts: StubOptions = {}) {
    this.token = opts.token ?? 'a1'.repeat(32);
    this.networkId = opts.networkId ?? 3n;
    this.commitDelayMs = opts.commitDelayMs === undefined ? 20 : opts.commitDelayMs;
    this.hangPaths = opts.hangPaths ?? [];
    this.ledger = opts.ledger ?? new StubLedger();
    this.connected = opts.connected ?? 0;
    this.ignoreConflicts = opts.ignoreConflicts === true;
    this.ledger.listeners.add(this.wake);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.send(res, 500, { error: 'internal', reason: String(err) }));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.ledger.listeners.delete(this.wake);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters) w();
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4' : 'application/json' });
    res.end(text);
  }

  get blocks(): Map<string, StubBlock> {
    return this.ledger.blocks;
  }

  get mappings(): Map<string, Mapping> {
    return this.ledger.mappings;
  }

  private readonly wake = (): void => {
    for (const w of [...this.waiters]) w();
  };

  private notify(): void {
    this.ledger.notify();
  }

  private commit(b: StubBlock): void {
    if (b.status !== 'pending') return;
    // First commit wins: a committed mapping is never replaced (PROTOCOL §5.5).
    for (const e of b.signed.block.entries) {
      const t = toHex(e.token);
      const m = this.mappings.get(t);
      const current = m === undefined ? '0'.repeat(64) : m.block;
      if (current !== toHex(e.last) && !this.ignoreConflicts) {
        b.status = 'blocked';
        this.notify();
        return;
      }
    }
    b.status = 'committed';
    b.seq = ++this.ledger.seq;
    for (const e of b.signed.block.entries) {
      this.mappings.set(toHex(e.token), { block: b.id, parent: toHex(e.last), time: b.signed.block.time, seq: b.seq });
    }
    this.notify();
  }

  private parentOf = (last: Uint8Array): Block | undefined => {
    const b = this.blocks.get(toHex(last));
    return b === undefined || b.status !== 'committed' ? undefined : b.signed.block;
  };

  private async readBody(req: IncomingMessage): Promise<string | null> {
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > 64 * 1024) return null;
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stub');
    const authorised = req.headers.authorization === `Bearer ${this.token}`;
    this.requests.push({ method: req.method ?? '', path: url.pathname, authorised });
    if (!authorised) return this.send(res, 401, { error: 'unauthorized' });
    if (this.hangPaths.includes(url.pathname)) {
      this.hanging.add(res);
      return;
    }
    const parts = url.pathname.split('/').filter((p) => p.length > 0);
    if (req.method === 'GET' && url.pathname === '/v1/status') {
      return this.send(res, 200, {
        version: 'stub',
        profile: 'devnet',
        networkId: Number(this.networkId),
        publicKey: '00'.repeat(32),
        address: '00'.repeat(32),
        udp: { host: '127.0.0.1', port: 1 },
        head: { seq: this.ledger.seq, id: '00'.repeat(32) },
        peers: { connected: this.connected, known: this.connected },
        mempool: [...this.blocks.values()].filter((b) => b.status === 'pending').length,
        uptimeS: 1,
      });
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      return this.send(res, 200, `# TYPE ecd_commits_total counter\necd_commits_total ${this.ledger.seq}\necd_frames_out_total{kind="vote"} 3\necd_frames_out_total{kind="block"} 4\n`);
    }
    if (req.method === 'POST' && url.pathname === '/v1/blocks') {
      const text = await this.readBody(req);
      if (text === null) return this.send(res, 413, { error: 'too-large', reason: 'body over 64 KiB' });
      let hex: unknown;
      try {
        hex = (JSON.parse(text) as { block?: unknown }).block;
      } catch {
        return this.send(res, 400, { error: 'malformed', reason: 'body is not JSON' });
      }
      if (typeof hex !== 'string' || !/^[0-9a-f]*$/.test(hex) || hex.length % 2 !== 0) {
        return this.send(res, 400, { error: 'malformed', reason: '"block" must be lowercase hex' });
      }
      const d = decodeSignedBlock(new Uint8Array(Buffer.from(hex, 'hex')));
      if (!d.ok) return this.send(res, 400, { error: 'malformed', code: d.code, reason: `not a signed block: ${d.code}` });
      const crypto = { blake3: testBlake3, ed25519: testEd25519 };
      const standalone = checkStandalone(d.signed, Date.now(), 2 * 3600_000);
      if (standalone !== null) return this.send(res, 400, { error: 'invalid-block', code: standalone, reason: `invalid block: ${standalone}` });
      const idBytes = blockId(testBlake3, this.networkId, d.signed.block);
      const check = checkAgainstParents(crypto, d.signed, idBytes, this.parentOf);
      if (check.kind === 'invalid') return this.send(res, 400, { error: 'invalid-block', code: check.code, reason: `invalid block: ${check.code}` });
      if (check.kind === 'missing-parents') return this.send(res, 400, { error: 'invalid-block', code: 'missing-parent', reason: 'parent unknown' });
      const id = toHex(idBytes);
      let b = this.blocks.get(id);
      if (b === undefined) {
        b = { id, signed: d.signed, status: 'pending' };
        this.blocks.set(id, b);
        const sb = b;
        if (this.commitDelayMs !== null) {
          const t = setTimeout(() => {
            this.timers.delete(t);
            this.commit(sb);
          }, this.commitDelayMs);
          this.timers.add(t);
        }
      }
      return this.send(res, 202, { id, status: b.status });
    }
    if (req.method === 'GET' && parts[0] === 'v1' && parts[1] === 'blocks' && parts.length === 3) {
      const id = parts[2] as string;
      if (!/^[0-9a-f]{64}$/.test(id)) return this.send(res, 400, { error: 'malformed', reason: 'id must be 32 bytes of hex' });
      const waitMs = Math.min(30_000, Number(url.searchParams.get('waitMs') ?? '0') || 0);
      const answer = (): unknown => {
        const b = this.blocks.get(id);
        if (b === undefined) return { id, status: 'unknown' };
        return { id, status: b.status, ...(b.seq === undefined ? {} : { seq: b.seq }), block: toHex(encodeSignedBlock(b.signed)) };
      };
      const terminal = (): boolean => {
        const b = this.blocks.get(id);
        return b !== undefined && b.status !== 'pending';
      };
      if (waitMs > 0 && !terminal() && this.blocks.has(id)) {
        await new Promise<void>((resolve) => {
          const finish = (): void => {
            clearTimeout(timer);
            this.timers.delete(timer);
            this.waiters.delete(check);
            resolve();
          };
          const check = (): void => {
            if (terminal() || this.stopping) finish();
          };
          const timer: NodeJS.Timeout = setTimeout(finish, waitMs);
          this.timers.add(timer);
          this.waiters.add(check);
        });
      }
      return this.send(res, 200, answer());
    }
    if (req.method === 'GET' && parts[0] === 'v1' && parts[1] === 'tokens' && (parts.length === 3 || (parts.length === 4 && parts[3] === 'history'))) {
      const t = parts[2] as string;
      if (!/^[0-9a-f]{64}$/.test(t)) return this.send(res, 400, { error: 'malformed', reason: 'token must be 32 bytes of hex' });
      const m = this.mappings.get(t);
      if (parts.length === 3) {
        if (m === undefined) return this.send(res, 404, { error: 'not-found', reason: 'no mapping for this token' });
        return this.send(res, 200, { token: t, ...m, source: 'local', hosted: true });
      }
      const history: unknown[] = [];
      let cur = m?.block;
      while (cur !== undefined && !isZero(Buffer.from(cur, 'hex'))) {
        const b = this.blocks.get(cur);
        if (b === undefined) break;
        const e = b.signed.block.entries.find((x) => toHex(x.token) === t);
        if (e === undefined) break;
        history.push({ block: cur, parent: toHex(e.last), time: b.signed.block.time, ...(b.seq === undefined ? {} : { seq: b.seq }) });
        cur = toHex(e.last);
      }
      return this.send(res, 200, { token: t, history });
    }
    if (req.method === 'GET' && parts[0] === 'v1' && parts[1] === 'network' && parts[2] === 'tokens' && parts.length === 4) {
      const t = parts[3] as string;
      const m = this.mappings.get(t);
      return this.send(res, 200, { token: t, answers: m === undefined ? [] : [{ responder: '11'.repeat(32), block: m.block, seq: m.seq, time: m.time }], referrals: [] });
    }
    return this.send(res, 404, { error: 'not-found', reason: `no route ${req.method ?? ''} ${url.pathname}` });
  }
}

export async function startStub(opts: StubOptions = {}): Promise<StubApi> {
  return new StubApi(opts).start();
}
