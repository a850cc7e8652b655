/**
 * The cover filter of an INITIAL_VOTE (PROTOCOL §5.4): a 256-bit Bloom filter of the peers the
 * sender gives the block in the same wave. A peer address sets three bits, indexed by its last
 * three bytes (addresses are hash outputs, so those bytes are uniform; the leading bytes are not,
 * since window members share a ring prefix). With the nine receivers of one window, a peer not
 * among them reads as covered with probability (1 − e^(−27/256))³ ≈ 0.1 %; a false cover costs
 * that peer one body fetch, nothing else. All-zero covers nobody.
 */
export const COVER_BYTES = 32;
/** Bits an added address sets, at most: one per byte of its last COVER_BITS_PER_PEER bytes. */
export const COVER_BITS_PER_PEER = 3;

const ADDRESS_BYTES = 32;

function setBit(filter: Uint8Array, bit: number): void {
  filter[bit >> 3] = (filter[bit >> 3] as number) | (1 << (bit & 7));
}

function hasBit(filter: Uint8Array, bit: number): boolean {
  return ((filter[bit >> 3] as number) & (1 << (bit & 7))) !== 0;
}

/** Adds a 32-byte peer address to the filter. */
export function coverAdd(filter: Uint8Array, address: Uint8Array): void {
  for (let k = ADDRESS_BYTES - COVER_BITS_PER_PEER; k < ADDRESS_BYTES; k++) setBit(filter, address[k] as number);
}

/** Whether the filter covers the address (possibly falsely, never missing an added one). */
export function covers(filter: Uint8Array, address: Uint8Array): boolean {
  for (let k = ADDRESS_BYTES - COVER_BITS_PER_PEER; k < ADDRESS_BYTES; k++) if (!hasBit(filter, address[k] as number)) return false;
  return true;
}

/** Bits set in the filter. */
export function coverBits(filter: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < COVER_BYTES; i++) for (let b = filter[i] as number; b !== 0; b &= b - 1) n++;
  return n;
}

/** ORs `from` into `into`. */
export function coverMerge(into: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < COVER_BYTES; i++) into[i] = (into[i] as number) | (from[i] as number);
}
