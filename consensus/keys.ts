/**
 * Ids inside the core are 32-byte arrays, turned once into numbers: the first 48 bits
 * (big-endian) key the maps and place the id on the ring; ids that share them are told apart by
 * their full bytes. Peers are interned to small integers (`PeerIds`) when first seen.
 */

export const PREFIX_SPACE = 2 ** 48;

/** The first 48 bits of a 32-byte id as a number in [0, 2^48). */
export function prefix48(b: Uint8Array): number {
  return ((b[0] as number) * 2 ** 40 + (b[1] as number) * 2 ** 32 + (((b[2] as number) << 24) >>> 0) + ((b[3] as number) << 16) + ((b[4] as number) << 8) + (b[5] as number));
}

export function equal32(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Two 16-byte tickets are the same (false when either is not 16 bytes). */
export function equal16(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== 16 || b.length !== 16) return false;
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Big-endian order of two 32-byte ids. */
export function compare32(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

export function isZero32(a: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (a[i] !== 0) return false;
  return true;
}

interface Slot<V> {
  readonly key: Uint8Array;
  value: V;
  next: Slot<V> | undefined;
}

/** A map keyed by 32-byte ids (the caller's arrays are stored; they must not be mutated). */
export class IdMap<V> {
  private readonly m = new Map<number, Slot<V>>();
  private n = 0;

  get size(): number {
    return this.n;
  }

  get(key: Uint8Array): V | undefined {
    for (let s = this.m.get(prefix48(key)); s !== undefined; s = s.next) if (equal32(s.key, key)) return s.value;
    return undefined;
  }

  has(key: Uint8Array): boolean {
    for (let s = this.m.get(prefix48(key)); s !== undefined; s = s.next) if (equal32(s.key, key)) return true;
    return false;
  }

  set(key: Uint8Array, value: V): void {
    const p = prefix48(key);
    const head = this.m.get(p);
    for (let s = head; s !== undefined; s = s.next) {
      if (equal32(s.key, key)) {
        s.value = value;
        return;
      }
    }
    this.m.set(p, { key, value, next: head });
    this.n++;
  }

  delete(key: Uint8Array): boolean {
    const p = prefix48(key);
    let prev: Slot<V> | undefined;
    for (let s = this.m.get(p); s !== undefined; prev = s, s = s.next) {
      if (!equal32(s.key, key)) continue;
      if (prev !== undefined) prev.next = s.next;
      else if (s.next !== undefined) this.m.set(p, s.next);
      else this.m.delete(p);
      this.n--;
      return true;
    }
    return false;
  }

  *values(): IterableIterator<V> {
    for (let s of this.m.values()) for (; s !== undefined; s = s.next as Slot<V>) yield s.value;
  }

  clear(): void {
    this.m.clear();
    this.n = 0;
  }
}

/**
 * Peer addresses interned to small integers, so votes, rings and outboxes key on numbers. One
 * table may be shared by many cores (the simulator does: one copy of each address in all).
 */
export class PeerIds {
  private readonly ids = new IdMap<number>();
  private readonly addrs: Uint8Array[] = [];
  private readonly prefixes: number[] = [];

  get size(): number {
    return this.addrs.length;
  }

  /** The peer's integer; a new address is copied and numbered. */
  intern(address: Uint8Array): number {
    const hit = this.ids.get(address);
    if (hit !== undefined) return hit;
    const copy = Uint8Array.from(address);
    const id = this.addrs.length;
    this.addrs.push(copy);
    this.prefixes.push(prefix48(copy));
    this.ids.set(copy, id);
    return id;
  }

  lookup(address: Uint8Array): number | undefined {
    return this.ids.get(address);
  }

  address(id: number): Uint8Array {
    return this.addrs[id] as Uint8Array;
  }

  prefix(id: number): number {
    return this.prefixes[id] as number;
  }
}
