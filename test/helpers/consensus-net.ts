/**
 * A small deterministic network of consensus peers in one process: each peer has a memory store,
 * messages pass through one queue with seeded latency, loss and duplication, and the safety
 * invariants are checked on every batch. Everything random comes from one seed, which every
 * failure message carries.
 */
import type { SignedBlock } from '../../wire/block.js';
import { commitRecordId } from '../../wire/block.js';
import { MemoryStore } from '../../store/memory.js';
import type { CommitBatch } from '../../store/types.js';
import { ConsensusPeer } from '../../consensus/peer.js';
import type { ConsensusEvent, Output } from '../../consensus/peer.js';
import type { Message } from '../../consensus/messages.js';
import type { ConsensusParams } from '../../consensus/params.js';
import { consensusParams } from '../../consensus/params.js';
import type { Hex } from '../../consensus/hex.js';
import { toHex } from '../../consensus/hex.js';
import { testBlake3, testCrypto } from './noble-crypto.js';
import { NET, T0, TICK_MS } from './consensus-fixtures.js';
import { SeededRng } from './seeded-rng.js';

export interface NetOptions {
  readonly peers: number;
  readonly seed: number;
  /** Delivery delay in ticks, uniform in [min, max]; 0 = within the same tick. */
  readonly latency?: { readonly min: number; readonly max: number };
  readonly loss?: number;
  readonly duplicate?: number;
  readonly params?: Partial<ConsensusParams>;
}

export interface Node {
  readonly index: number;
  readonly address: Uint8Array;
  readonly hex: Hex;
  readonly peer: ConsensusPeer;
  readonly store: MemoryStore;
  /** Block ids committed here, in commit order. */
  readonly committed: Hex[];
}

interface InFlight {
  readonly at: number;
  readonly seq: number;
  readonly from: Node;
  readonly to: Node;
  readonly message: Message;
}

export class SimNet {
  readonly nodes: Node[];
  readonly rng: SeededRng;
  readonly violations: string[] = [];
  readonly events: { node: number; tick: number; event: ConsensusEvent }[] = [];
  tickNo = 0;
  messagesDelivered = 0;
  private queue: InFlight[] = [];
  private seq = 0;
  private readonly byHex = new Map<Hex, Node>();
  /** Per node: (token ‖ last) → the block that consumed it there. */
  private readonly spent: Map<string, Hex>[];
  /** Per node: token → current mapping block. */
  private readonly mapping: Map<Hex, Hex>[];

  constructor(readonly opts: NetOptions) {
    this.rng = new SeededRng(opts.seed);
    const params = consensusParams(NET, opts.params ?? {});
    this.nodes = Array.from({ length: opts.peers }, (_, index) => {
      const address = this.rng.bytes(32);
      const store = new MemoryStore();
      const ticketRng = new SeededRng(opts.seed * 7919 + index);
      const peer = new ConsensusPeer({ crypto: testCrypto, store, random: (n) => ticketRng.bytes(n) }, { address, params });
      return { index, address, hex: toHex(address), peer, store, committed: [] };
    });
    for (const n of this.nodes) this.byHex.set(n.hex, n);
    for (const n of this.nodes) n.peer.setPeers(this.nodes.filter((m) => m !== n).map((m) => m.address));
    this.spent = this.nodes.map(() => new Map());
    this.mapping = this.nodes.map(() => new Map());
  }

  get now(): number {
    return T0 + this.tickNo * TICK_MS;
  }

  submit(node: number, signed: SignedBlock): Hex | undefined {
    const n = this.nodes[node] as Node;
    const out = n.peer.submit(this.now, signed);
    this.take(n, out);
    return out.id;
  }

  /** Delivers everything due, then ticks every peer once. */
  step(): void {
    this.deliverDue();
    this.tickNo++;
    for (const n of this.nodes) this.take(n, n.peer.tick(this.now));
  }

  run(ticks: number, until?: () => boolean): void {
    for (let i = 0; i < ticks; i++) {
      this.step();
      if (until?.()) return;
    }
  }

  /** Delivers due messages, including those their delivery causes with zero latency. */
  deliverDue(): void {
    for (let guard = 0; guard < 1000; guard++) {
      const due = this.queue.filter((m) => m.at <= this.tickNo);
      if (due.length === 0) return;
      this.queue = this.queue.filter((m) => m.at > this.tickNo);
      due.sort((a, b) => a.at - b.at || a.seq - b.seq);
      for (const m of due) {
        this.messagesDelivered++;
        // The transport hands the core the sender's packet number as the vote order.
        this.take(m.to, m.to.peer.receive(this.now, m.from.address, m.message, { order: m.seq }));
      }
    }
    this.violations.push(`seed ${this.opts.seed}: delivery did not quiesce at tick ${this.tickNo}`);
  }

  statusEverywhere(id: Hex): string[] {
    return this.nodes.map((n) => n.peer.status(id));
  }

  committers(id: Hex): Node[] {
    return this.nodes.filter((n) => n.committed.includes(id));
  }

  private take(n: Node, out: Output): void {
    if (out.batch !== null) {
      this.check(n, out.batch);
      n.store.apply(out.batch);
      for (const b of out.batch.blocks) n.committed.push(toHex(b.id));
    }
    for (const event of out.events) {
      this.events.push({ node: n.index, tick: this.tickNo, event });
      if (event.kind === 'rejected' && event.action === 'reject') this.violations.push(`seed ${this.opts.seed}, node ${n.index}: honest message rejected (${event.message}: ${event.code})`);
      if (event.kind === 'rejected' && event.code === 'internal-error') this.violations.push(`seed ${this.opts.seed}, node ${n.index}: internal error on ${event.message}`);
    }
    const lat = this.opts.latency ?? { min: 0, max: 0 };
    for (const o of out.messages) {
      const to = this.byHex.get(toHex(o.to));
      if (to === undefined) continue; // a client or an unknown peer: not simulated
      if (this.opts.loss !== undefined && this.rng.next() < this.opts.loss) continue;
      const copies = this.opts.duplicate !== undefined && this.rng.next() < this.opts.duplicate ? 2 : 1;
      // A duplicate keeps its packet number (the real transport's replay filter would drop it).
      const seq = this.seq++;
      for (let c = 0; c < copies; c++) {
        const delay = lat.min + this.rng.int(lat.max - lat.min + 1);
        this.queue.push({ at: this.tickNo + delay, seq, from: n, to, message: o.message });
      }
    }
  }

  /** Safety invariants on every batch: one contender per (token, last) per peer; mappings only move forward; the chain links. */
  private check(n: Node, batch: CommitBatch): void {
    const where = `seed ${this.opts.seed}, node ${n.index}, tick ${this.tickNo}`;
    const spent = this.spent[n.index] as Map<string, Hex>;
    const mapping = this.mapping[n.index] as Map<Hex, Hex>;
    let head = n.store.head();
    for (const c of batch.commits) {
      if (c.seq !== head.seq + 1 || toHex(c.prevId) !== toHex(head.id)) this.violations.push(`${where}: commit chain does not link`);
      if (toHex(commitRecordId(testBlake3, c)) !== toHex(c.id)) this.violations.push(`${where}: commit id does not hash its record`);
      head = { seq: c.seq, id: c.id };
    }
    for (const b of batch.blocks) {
      const id = toHex(b.id);
      for (const e of b.block.entries) {
        const k = toHex(e.token) + toHex(e.last);
        const prev = spent.get(k);
        if (prev !== undefined && prev !== id) this.violations.push(`${where}: committed two contenders ${prev} and ${id}`);
        spent.set(k, id);
      }
    }
    for (const t of batch.tokens) {
      const token = toHex(t.token);
      // An unknown mapping may be set to anything (a host that missed history); a known one only moves to a child.
      const before = mapping.get(token);
      if (before !== undefined && toHex(t.mapping.parent) !== before) this.violations.push(`${where}: mapping of ${token} moved from ${before} to a block extending ${toHex(t.mapping.parent)}`);
      mapping.set(token, toHex(t.mapping.block));
    }
  }
}
