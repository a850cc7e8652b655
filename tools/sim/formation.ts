/**
 * The emergent topology of a simulation (`--bootstrap N`): every peer that runs the core runs the
 * peer lifecycle (consensus/lifecycle.ts) from N bootstrap peers that joined before it, and its
 * Connected set is what the lifecycle earned. Honest peers store the genesis set within `reach` of their address
 * (consensus/genesis.ts); `nostore` peers store none and answer FIND with a fabricated proof
 * (correct chunks and order, tokens made up), the best a peer without the data can do alone.
 *
 * Lifecycle messages travel as data through the engine's network (delay, loss, partitions) and
 * are counted at their wire sizes. Neighbourhood accuracy: for each honest peer that is up, the
 * share of its true ring neighbours (the w nearest honest peers that are up, on each side) that
 * it holds Connected.
 */
import type { Blake3Kernel } from '../../kernels/types.js';
import type { StoreReader } from '../../store/types.js';
import { genesisProof, GenesisTable } from '../../consensus/genesis.js';
import { IdMap } from '../../consensus/keys.js';
import { PeerLifecycle, type LifeMessage, type LifeOutput } from '../../consensus/lifecycle.js';
import { fabricatedProof } from '../../daemon/answer-builder.js';
import { answerBodySize } from '../../wire/msg-answer.js';
import { PEER_SIZES } from '../../wire/msg-peer.js';
import { ZERO_ID } from '../../wire/block.js';
import { Rng } from './rng.js';

export type LifeEnvelope = LifeMessage;

/** Genesis of the simulated network: enough tokens that a peer's proof walks stay within its reach. */
export const SIM_GENESIS = { bits: 18, reach: 0.1 } as const;
/** Accuracy at or above this counts as converged. */
export const CONVERGED_ACCURACY = 0.95;

export interface FormationOptions {
  readonly seed: number;
  readonly peers: number;
  readonly bootstrap: number;
  readonly addresses: readonly Uint8Array[];
  readonly kinds: readonly string[];
  readonly blake3: Blake3Kernel;
  readonly networkId: bigint;
  readonly window: number;
  readonly stores: (i: number) => StoreReader | undefined;
  readonly send: (from: number, to: number, message: LifeMessage) => void;
}

export interface FormationReport {
  readonly bootstrap: number;
  /** Neighbourhood accuracy at the end of the run. */
  readonly accuracy: number | null;
  /** First tick the accuracy reached CONVERGED_ACCURACY (checked every 10 ticks). */
  readonly convergedTick: number | null;
  readonly accuracyByTick: readonly (readonly [number, number])[];
  readonly degree: { readonly mean: number; readonly max: number };
  /** Most (honest peer, nostore peer) Connected pairs seen at any check. */
  readonly nostoreConnected: number;
  readonly messages: { readonly frames: number; readonly bytes: number; readonly byType: Record<string, number> };
}

const tables = new Map<string, GenesisTable>();

function genesisTable(blake3: Blake3Kernel, networkId: bigint): GenesisTable {
  const key = `${networkId}/${SIM_GENESIS.bits}`;
  let t = tables.get(key);
  if (t === undefined) tables.set(key, (t = new GenesisTable(blake3, networkId, SIM_GENESIS.bits)));
  return t;
}

function wireSize(m: LifeMessage): number {
  if (m.type === 'find') return PEER_SIZES.queryToken;
  if (m.type === 'proof') return 1 + answerBodySize(m.pairs.length, 0);
  return PEER_SIZES.referralHeader + m.peers.length * PEER_SIZES.referralPeerMin;
}

export class Formation {
  private readonly lives: (PeerLifecycle | undefined)[];
  private readonly index = new IdMap<number>();
  private changed: (i: number) => void = () => {};
  private frames = 0;
  private bytes = 0;
  private readonly byType: Record<string, number> = {};
  private readonly byTick: [number, number][] = [];
  private convergedTick: number | null = null;
  private nostoreMax = 0;
  private lastAccuracy: number | null = null;
  private up: (i: number) => boolean = () => true;

  constructor(private readonly o: FormationOptions) {
    if (!Number.isInteger(o.bootstrap) || o.bootstrap < 1 || o.bootstrap > 3) throw new RangeError('bootstrap must be 1, 2 or 3 peers');
    o.addresses.forEach((a, i) => this.index.set(a, i));
    const table = genesisTable(o.blake3, o.networkId);
    // Each peer knows `bootstrap` peers that joined before it (a seeded join order), as a real
    // joiner knows peers already there; the first knows none and is found by the others.
    const picks = new Rng(o.seed * 613 + 29);
    const order = picks.shuffle(o.addresses.map((_, i) => i));
    const joined = new Int32Array(o.peers);
    order.forEach((i, k) => (joined[i] = k));
    this.lives = o.addresses.map((address, i) => {
      const kind = o.kinds[i];
      if (kind !== 'honest' && kind !== 'nostore') return undefined;
      const rng = new Rng(o.seed * 7919 + i * 104_729 + 1);
      const view = table.view(address, SIM_GENESIS.reach);
      const proof =
        kind === 'nostore'
          ? (requester: Uint8Array, token: Uint8Array) => ({ block: ZERO_ID, pairs: fabricatedProof(o.blake3, address, requester, token) })
          : (requester: Uint8Array, token: Uint8Array) => genesisProof(o.blake3, view, o.stores(i)?.token(token)?.block, requester, token);
      const life = new PeerLifecycle({ blake3: o.blake3, random: () => rng.next(), proof }, address, { window: o.window });
      const before = joined[i] as number;
      for (let k = 0; k < Math.min(o.bootstrap, before); k++) life.learn(o.addresses[order[picks.int(before)] as number] as Uint8Array);
      return life;
    });
  }

  onChange(f: (i: number) => void): void {
    this.changed = f;
  }

  deliver(from: number, to: number, m: LifeMessage): void {
    const life = this.lives[to];
    if (life !== undefined) this.take(to, life.receive(this.o.addresses[from] as Uint8Array, m));
  }

  heardFrom(to: number, from: number): void {
    this.lives[to]?.heard(this.o.addresses[from] as Uint8Array);
  }

  heard(i: number, from: readonly number[]): void {
    for (const j of from) this.heardFrom(i, j);
  }

  tick(i: number): void {
    const life = this.lives[i];
    if (life !== undefined) this.take(i, life.tick());
  }

  restart(i: number): void {
    this.lives[i]?.restart();
  }

  connected(i: number): number[] {
    return (this.lives[i]?.connected() ?? []).map((a) => this.index.get(a) as number);
  }

  formed(i: number): boolean {
    return this.lives[i]?.formed() ?? true;
  }

  pending(i: number): Uint8Array[] {
    return this.lives[i]?.pending() ?? [];
  }

  private take(i: number, out: LifeOutput): void {
    for (const s of out.messages) {
      const to = this.index.get(s.to);
      if (to === undefined) continue;
      this.frames++;
      this.bytes += wireSize(s.message);
      this.byType[s.message.type] = (this.byType[s.message.type] ?? 0) + 1;
      this.o.send(i, to, s.message);
    }
    if (out.changed) this.changed(i);
  }

  /** Every 10 ticks: accuracy, and nostore peers held Connected by honest ones. */
  observe(tick: number, up: (i: number) => boolean): void {
    this.up = up;
    if (tick % 10 !== 0) return;
    const a = this.accuracy();
    this.lastAccuracy = a;
    if (a !== null && a >= CONVERGED_ACCURACY && this.convergedTick === null) this.convergedTick = tick;
    if (tick % 50 === 0 && a !== null) this.byTick.push([tick, Math.round(a * 1000) / 1000]);
    let pairs = 0;
    this.lives.forEach((life, i) => {
      if (life === undefined || this.o.kinds[i] !== 'honest') return;
      for (const j of this.connected(i)) if (this.o.kinds[j] === 'nostore') pairs++;
    });
    this.nostoreMax = Math.max(this.nostoreMax, pairs);
  }

  /** Mean over honest peers that are up of the share of their true neighbours held Connected. */
  accuracy(): number | null {
    const n = this.o.peers;
    const w = this.o.window;
    const storing = (j: number): boolean => this.o.kinds[j] === 'honest' && this.up(j);
    let sum = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const life = this.lives[i];
      if (life === undefined || !storing(i)) continue;
      let have = 0;
      let want = 0;
      for (const dir of [1, -1]) {
        let found = 0;
        for (let step = 1; step < n && found < w; step++) {
          const j = (((i + dir * step) % n) + n) % n;
          if (j === i) break;
          if (!storing(j)) continue;
          found++;
          if (life.stateOf(this.o.addresses[j] as Uint8Array) === 'connected') have++;
        }
        want += found;
      }
      if (want === 0) continue;
      sum += have / want;
      count++;
    }
    return count === 0 ? null : sum / count;
  }

  report(tick: number): FormationReport {
    const a = this.accuracy() ?? this.lastAccuracy;
    if (a !== null && tick % 50 !== 0) this.byTick.push([tick, Math.round(a * 1000) / 1000]);
    let sum = 0;
    let max = 0;
    let count = 0;
    this.lives.forEach((life, i) => {
      if (life === undefined || this.o.kinds[i] !== 'honest') return;
      const d = life.counts().connected;
      sum += d;
      max = Math.max(max, d);
      count++;
    });
    return {
      bootstrap: this.o.bootstrap,
      accuracy: a === null ? null : Math.round(a * 1000) / 1000,
      convergedTick: this.convergedTick,
      accuracyByTick: this.byTick,
      degree: { mean: count === 0 ? 0 : Math.round((sum / count) * 10) / 10, max },
      nostoreConnected: this.nostoreMax,
      messages: { frames: this.frames, bytes: this.bytes, byType: this.byType },
    };
  }
}
