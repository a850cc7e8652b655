/**
 * The no-amplification rule (PROTOCOL §3): until an address has answered one of our frames,
 * replies to it total at most 3× the bytes received from it. A spoofed source address can then
 * make us send its victim at most three times what the spoofer sent.
 *
 * Per address (IP and port), in a bounded cache (approximately LRU, `GenerationalCache`):
 *
 *   (none) ──receive──▶ unvalidated ──validate()──▶ validated
 *   (none) ──send(initiate)──▶ initiated ──receive──▶ validated
 *
 *  - unvalidated: the address spoke first. Sends are replies, allowed while
 *    sent + size ≤ factor × received (authenticated bytes only).
 *  - initiated: we spoke first, by the caller's explicit choice (`initiate: true`). Sends are
 *    allowed, and the first authenticated frame from the address answers ours: validated.
 *  - validated: no limit. Reached from `unvalidated` only through `validate()`, which the protocol
 *    core calls when a message proves the address receives our frames (a PONG echoing a PING's
 *    random token). An authenticated frame alone cannot prove that: its sender may spoof.
 *
 * A send to an address with no state that is not an initiation is refused: it is a reply to
 * someone we never heard from (or whose state was evicted — the safe direction).
 */
import { GenerationalCache } from '../wire/replay.js';

export type AddressState = 'unvalidated' | 'initiated' | 'validated';

export const DEFAULT_AMPLIFICATION_FACTOR = 3;
export const DEFAULT_AMPLIFICATION_MAX_ENTRIES = 65_536;

export interface AmplificationOptions {
  readonly factor?: number;
  /** Addresses tracked (default 65 536). */
  readonly maxEntries?: number;
}

interface Entry {
  state: AddressState;
  received: number;
  sent: number;
}

export class AmplificationGuard {
  private readonly entries: GenerationalCache<Entry>;
  private readonly factor: number;

  constructor(opts: AmplificationOptions = {}) {
    this.factor = opts.factor ?? DEFAULT_AMPLIFICATION_FACTOR;
    if (!(this.factor >= 0) || !Number.isFinite(this.factor)) throw new RangeError('amplification factor must be ≥ 0');
    this.entries = new GenerationalCache<Entry>(Math.max(1, Math.floor(opts.maxEntries ?? DEFAULT_AMPLIFICATION_MAX_ENTRIES)));
  }

  /** An authenticated, fresh frame of `bytes` arrived from `address`. */
  noteReceived(address: string, bytes: number): void {
    const e = this.entries.get(address);
    if (e === undefined) {
      this.entries.set(address, { state: 'unvalidated', received: bytes, sent: 0 });
      return;
    }
    if (e.state === 'initiated') e.state = 'validated';
    else if (e.state === 'unvalidated') e.received += bytes;
  }

  /**
   * May we send `bytes` to `address` now? When true the bytes are accounted for. `initiate`
   * marks a first contact we chose to make; it only matters for an address with no state.
   */
  allowSend(address: string, bytes: number, initiate = false): boolean {
    const e = this.entries.get(address);
    if (e === undefined) {
      if (!initiate) return false;
      this.entries.set(address, { state: 'initiated', received: 0, sent: bytes });
      return true;
    }
    if (e.state !== 'unvalidated') {
      e.sent += bytes;
      return true;
    }
    if (e.sent + bytes > this.factor * e.received) return false;
    e.sent += bytes;
    return true;
  }

  /** The protocol core has proof that `address` receives our frames. */
  validate(address: string): void {
    const e = this.entries.get(address);
    if (e === undefined) this.entries.set(address, { state: 'validated', received: 0, sent: 0 });
    else e.state = 'validated';
  }

  state(address: string): AddressState | null {
    return this.entries.peek(address)?.state ?? null;
  }

  /** Bytes a reply may still use (Infinity when unlimited, 0 with no state). */
  budget(address: string): number {
    const e = this.entries.peek(address);
    if (e === undefined) return 0;
    if (e.state !== 'unvalidated') return Infinity;
    return Math.max(0, this.factor * e.received - e.sent);
  }

  get size(): number {
    return this.entries.size;
  }
}
