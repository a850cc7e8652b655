/**
 * Server tickets (PROTOCOL §8): ticket = BLAKE3-keyed(secret, use ‖ id)[0..16]. The secret rotates
 * every `rotationMs` of the caller's clock; the current and the previous secret are accepted.
 * Secrets come from the injected random source, so a seeded run is reproducible.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import { TICKET_BYTES } from './messages.js';

export const TICKET_USE = {
  /** The body of a block we hold only votes for. */
  body: 1,
  /** A parent needed to validate or evaluate a block. */
  parent: 2,
} as const;

export type TicketUse = (typeof TICKET_USE)[keyof typeof TICKET_USE];

export class TicketIssuer {
  private epoch = -Infinity;
  private current: Uint8Array | undefined;
  private previous: Uint8Array | undefined;

  constructor(
    private readonly blake3: Blake3Kernel,
    private readonly random: (n: number) => Uint8Array,
    private readonly rotationMs: number,
  ) {}

  issue(now: number, use: TicketUse, id: Uint8Array): Uint8Array {
    this.rotate(now);
    return mac(this.blake3, this.current as Uint8Array, use, id);
  }

  /** Which use the ticket was issued for, or undefined if it is not ours (or too old). */
  check(now: number, ticket: Uint8Array, id: Uint8Array, uses: readonly TicketUse[]): TicketUse | undefined {
    this.rotate(now);
    for (const secret of [this.current, this.previous]) {
      if (secret === undefined) continue;
      for (const use of uses) if (equal(mac(this.blake3, secret, use, id), ticket)) return use;
    }
    return undefined;
  }

  private rotate(now: number): void {
    const epoch = Math.floor(now / this.rotationMs);
    if (epoch === this.epoch) return;
    this.previous = epoch === this.epoch + 1 ? this.current : undefined;
    this.current = this.random(32);
    this.epoch = epoch;
  }
}

function mac(blake3: Blake3Kernel, secret: Uint8Array, use: number, id: Uint8Array): Uint8Array {
  const msg = new Uint8Array(1 + id.length);
  msg[0] = use;
  msg.set(id, 1);
  return blake3.keyedHash(secret, msg, TICKET_BYTES);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}
