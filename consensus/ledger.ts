/**
 * Committed state as the core judges it (judge.ts `Ledger`): the store, with the commits of the
 * tick being evaluated laid over it, so a block evaluated later in the tick sees them (a parent
 * and its child commit in the same tick).
 */
import type { StoreReader } from '../store/types.js';
import type { Ledger } from './judge.js';
import { equal32, IdMap } from './keys.js';

export class TickLedger implements Ledger {
  private spends = new IdMap<{ last: Uint8Array; block: Uint8Array }[]>();
  private blocks = new IdMap<true>();
  private mapped = new IdMap<true>();

  constructor(private readonly store: StoreReader) {}

  spentBy(token: Uint8Array, last: Uint8Array): Uint8Array | undefined {
    const o = this.spends.get(token);
    if (o !== undefined) for (const s of o) if (equal32(s.last, last)) return s.block;
    return this.store.spend(token, last);
  }

  isCommitted(id: Uint8Array): boolean {
    return this.blocks.has(id) || this.store.hasBlock(id);
  }

  hasMapping(token: Uint8Array): boolean {
    return this.mapped.has(token) || this.store.token(token) !== undefined;
  }

  /** A block committed this tick. */
  addBlock(id: Uint8Array): void {
    this.blocks.set(id, true);
  }

  /** One of its entries; `mapped`: the batch maps the token (this peer hosts it). */
  addSpend(token: Uint8Array, last: Uint8Array, block: Uint8Array, mapped: boolean): void {
    const list = this.spends.get(token);
    const s = { last, block };
    if (list === undefined) this.spends.set(token, [s]);
    else list.push(s);
    if (mapped) this.mapped.set(token, true);
  }

  /** The tick's commits went into its batch, which the store holds before the next input. */
  clear(): void {
    this.spends = new IdMap();
    this.blocks = new IdMap();
    this.mapped = new IdMap();
  }
}
