/**
 * Builders for consensus tests: keys, addresses on the ring, signed blocks, and a single-peer rig
 * that applies each tick's batch to a memory store (the driver contract) and speaks the v2
 * messages (PROTOCOL §5.2: a vote is a pair of masks, `+` in pos, `−` in neg, `0` in neither).
 */
import type { Ed25519Signer } from '../../kernels/types.js';
import type { Block, BlockEntry, SignedBlock } from '../../wire/block.js';
import { blockId, keyHash, signBlock, ZERO_ID } from '../../wire/block.js';
import { MemoryStore } from '../../store/memory.js';
import type { ConsensusEvent, Output, ReceiveMeta, SubmitOutput } from '../../consensus/peer.js';
import { ConsensusPeer } from '../../consensus/peer.js';
import type { Message, Outgoing } from '../../consensus/messages.js';
import type { ConsensusParams } from '../../consensus/params.js';
import { consensusParams } from '../../consensus/params.js';
import { committedVote, REJECTED } from '../../consensus/votes.js';
import { toHex } from '../../consensus/hex.js';
import { COVER_BYTES } from '../../wire/cover.js';
import { testBlake3, testCrypto, testEd25519 } from './noble-crypto.js';
import { SeededRng } from './seeded-rng.js';

export const NET = 3n;
export const T0 = 1_700_000_000_000;
export const TICK_MS = 50;

export function signer(seed: number): Ed25519Signer {
  const s = new Uint8Array(32);
  new DataView(s.buffer).setUint32(0, seed >>> 0);
  s[31] = 0x5a;
  return testEd25519.signerFromSeed(s);
}

/** A ring position as 32 big-endian bytes (taken mod 2^256). */
export function bigToBytes(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = ((x % (1n << 256n)) + (1n << 256n)) % (1n << 256n);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function bytesToBig(b: Uint8Array): bigint {
  return BigInt('0x' + toHex(b));
}

export interface EntrySpec {
  readonly token: Uint8Array;
  /** Parent block id; undefined or ZERO creates. */
  readonly last?: Uint8Array;
  /** Key allowed to sign the next update. */
  readonly next: Ed25519Signer | null;
  /** Key signing this update (must match the parent's next). */
  readonly by?: Ed25519Signer;
}

export function makeBlock(entries: readonly EntrySpec[], time: number): SignedBlock {
  const block: Block = {
    version: 1,
    time,
    entries: entries.map(
      (e): BlockEntry => ({
        token: e.token,
        last: e.last ?? ZERO_ID,
        nextKeyHash: e.next === null ? new Uint8Array(32) : keyHash(testBlake3, e.next.publicKey),
      }),
    ),
  };
  const signers = new Map<number, Ed25519Signer>();
  entries.forEach((e, i) => {
    if (e.last !== undefined && e.last.some((x) => x !== 0)) signers.set(i, e.by ?? signer(0));
  });
  return signBlock(testBlake3, NET, block, signers);
}

export function idOf(signed: SignedBlock): Uint8Array {
  return blockId(testBlake3, NET, signed.block);
}

export function hexId(signed: SignedBlock): string {
  return toHex(idOf(signed));
}

/** Bits of every entry of a block (`+` on all of them). */
export function allEntries(signed: SignedBlock): number {
  return (1 << signed.block.entries.length) - 1;
}

export interface RigOptions {
  readonly params?: Partial<ConsensusParams>;
  readonly seed?: number;
  readonly pending?: Uint8Array[];
  /** A store with history: the core starts as after a restart (PROTOCOL §5.2). */
  readonly store?: MemoryStore;
}

/** A single peer with its own memory store; every tick's batch is applied before anything else. */
export class Rig {
  readonly store: MemoryStore;
  readonly peer: ConsensusPeer;
  readonly params: ConsensusParams;
  now = T0;
  readonly log: { at: number; out: Outgoing }[] = [];
  readonly events: ConsensusEvent[] = [];

  constructor(
    readonly address: Uint8Array,
    connected: Uint8Array[],
    opts: RigOptions = {},
  ) {
    this.params = consensusParams(NET, opts.params);
    this.store = opts.store ?? new MemoryStore();
    const rng = new SeededRng(opts.seed ?? 1);
    this.peer = new ConsensusPeer({ crypto: testCrypto, store: this.store, random: (n) => rng.bytes(n) }, { address, params: this.params });
    this.peer.setPeers(connected, opts.pending ?? []);
  }

  private take(o: Output): Output {
    if (o.batch !== null) this.store.apply(o.batch);
    for (const m of o.messages) this.log.push({ at: this.peer.tickNumber, out: m });
    this.events.push(...o.events);
    return o;
  }

  tick(n = 1): Output[] {
    const outs: Output[] = [];
    for (let i = 0; i < n; i++) {
      this.now += TICK_MS;
      outs.push(this.take(this.peer.tick(this.now)));
    }
    return outs;
  }

  receive(from: Uint8Array, message: Message, meta: ReceiveMeta = {}): Output {
    return this.take(this.peer.receive(this.now, from, message, meta));
  }

  submit(signed: SignedBlock): SubmitOutput {
    const o = this.peer.submit(this.now, signed);
    this.take(o);
    return o;
  }

  /** A VOTE: `pos` bits are `+`, `neg` bits `−`, entries in neither `0`. */
  vote(from: Uint8Array, signedOrId: SignedBlock | Uint8Array, pos: number, neg: number, reply = false, meta: ReceiveMeta = {}): Output {
    const id = signedOrId instanceof Uint8Array ? signedOrId : idOf(signedOrId);
    return this.receive(from, { type: 'vote', blockId: id, pos, neg, reply }, meta);
  }

  /** A committed report: pos 0xC0 | the entries whose token the sender claims to host. */
  committed(from: Uint8Array, signedOrId: SignedBlock | Uint8Array, hostMask?: number, meta: ReceiveMeta = {}): Output {
    const mask = hostMask ?? (signedOrId instanceof Uint8Array ? 1 : allEntries(signedOrId));
    const v = committedVote(mask);
    return this.vote(from, signedOrId, v.pos, v.neg, false, meta);
  }

  /** A rejected vote (neg 0xC0). */
  rejected(from: Uint8Array, signedOrId: SignedBlock | Uint8Array, meta: ReceiveMeta = {}): Output {
    return this.vote(from, signedOrId, REJECTED.pos, REJECTED.neg, false, meta);
  }

  /**
   * An INITIAL_VOTE carrying the block; `origin` (the entry peer's address) defaults to the
   * sender, `covered` (the cover filter of the sender's wave) to nobody.
   */
  initialVote(from: Uint8Array, signed: SignedBlock, pos: number, neg: number, origin: Uint8Array = from, meta: ReceiveMeta = {}, covered = new Uint8Array(COVER_BYTES)): Output {
    return this.receive(from, { type: 'initial-vote', block: signed.block, signatures: signed.signatures, pos, neg, origin, covered }, meta);
  }

  /** Every message (batches unwrapped) sent since `sinceIndex` of the log. */
  sent(sinceIndex = 0): { at: number; to: string; message: Exclude<Message, { type: 'batch' }> }[] {
    const out: { at: number; to: string; message: Exclude<Message, { type: 'batch' }> }[] = [];
    for (const { at, out: o } of this.log.slice(sinceIndex)) {
      const to = toHex(o.to);
      if (o.message.type === 'batch') for (const item of o.message.items) out.push({ at, to, message: item });
      else out.push({ at, to, message: o.message });
    }
    return out;
  }
}
