/**
 * One call's outgoing messages, batched per receiver (PROTOCOL §5.4 step 6): VOTE and
 * QUERY_BLOCK items to the same peer become REQUEST_BATCHes of at most `maxBatchItems`, placed
 * where that peer's first small item was; block-carrying messages go alone. Receivers are peer
 * integers until the flush turns them into addresses.
 */
import type { BatchItem, Message, Outgoing } from './messages.js';
import type { PeerIds } from './keys.js';

export class Outbox {
  private order: (Message | number)[] = [];
  private to: number[] = [];
  private groups = new Map<number, BatchItem[]>();

  get empty(): boolean {
    return this.order.length === 0;
  }

  push(to: number, m: Message): void {
    if (m.type === 'vote' || m.type === 'query-block') {
      const g = this.groups.get(to);
      if (g !== undefined) {
        g.push(m);
        return;
      }
      this.groups.set(to, [m]);
      this.order.push(to);
    } else {
      this.order.push(m);
    }
    this.to.push(to);
  }

  flush(peers: PeerIds, maxBatchItems: number): Outgoing[] {
    const out: Outgoing[] = [];
    for (let k = 0; k < this.order.length; k++) {
      const o = this.order[k] as Message | number;
      const address = peers.address(this.to[k] as number);
      if (typeof o !== 'number') {
        out.push({ to: address, message: o });
        continue;
      }
      const items = this.groups.get(o) as BatchItem[];
      for (let i = 0; i < items.length; i += maxBatchItems) {
        const chunk = items.slice(i, i + maxBatchItems);
        out.push({ to: address, message: chunk.length === 1 ? (chunk[0] as BatchItem) : { type: 'batch', items: chunk } });
      }
    }
    this.order = [];
    this.to = [];
    this.groups = new Map();
    return out;
  }
}
