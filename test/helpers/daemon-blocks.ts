/** Blocks for the daemon tests, built and signed client-side with wire/block.ts. */
import { randomBytes } from 'node:crypto';
import { loadCrypto, type CryptoKernels } from '../../kernels/crypto.js';
import type { Ed25519Signer } from '../../kernels/types.js';
import { blockId, encodeSignedBlock, keyHash, signBlock, ZERO_ID, type Block, type SignedBlock } from '../../wire/block.js';

export interface Owner {
  readonly signer: Ed25519Signer;
  readonly keyHash: Uint8Array;
}

export interface Built {
  readonly signed: SignedBlock;
  readonly id: string;
  readonly hex: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export class BlockFactory {
  private lastTime = 0;
  private constructor(
    readonly crypto: CryptoKernels,
    readonly networkId: bigint,
  ) {}

  static async create(networkId: bigint): Promise<BlockFactory> {
    return new BlockFactory(await loadCrypto(), networkId);
  }

  owner(): Owner {
    const signer = this.crypto.ed25519.signerFromSeed(new Uint8Array(randomBytes(32)));
    return { signer, keyHash: keyHash(this.crypto.blake3, signer.publicKey) };
  }

  /** Strictly increasing block times (a child must be later than its parent). */
  private time(): number {
    this.lastTime = Math.max(Date.now(), this.lastTime + 1);
    return this.lastTime;
  }

  private finish(signed: SignedBlock): Built {
    return { signed, id: hex(blockId(this.crypto.blake3, this.networkId, signed.block)), hex: hex(encodeSignedBlock(signed)) };
  }

  /** Creates `tokens` (fresh random ids unless given), all owned by `owner`. */
  create(owner: Owner, count = 1): Built & { tokens: Uint8Array[] } {
    const tokens = Array.from({ length: count }, () => new Uint8Array(randomBytes(32)));
    const block: Block = { version: 1, time: this.time(), entries: tokens.map((token) => ({ token, last: ZERO_ID, nextKeyHash: owner.keyHash })) };
    return { ...this.finish({ block, signatures: [] }), tokens };
  }

  /** Moves every token from its parent block (signed by `from`) to `to`. */
  transfer(moves: readonly { token: Uint8Array; parent: string }[], from: Owner, to: Owner): Built {
    const block: Block = {
      version: 1,
      time: this.time(),
      entries: moves.map((m) => ({ token: m.token, last: new Uint8Array(Buffer.from(m.parent, 'hex')), nextKeyHash: to.keyHash })),
    };
    const signers = new Map<number, Ed25519Signer>(moves.map((_, i) => [i, from.signer]));
    return this.finish(signBlock(this.crypto.blake3, this.networkId, block, signers));
  }

  /** The same block with one signature bit flipped. */
  corruptSignature(b: Built): Built {
    const sigs = b.signed.signatures.map((s, i) => {
      if (i !== 0) return s;
      const sig = Uint8Array.from(s.signature);
      sig[10] = (sig[10] as number) ^ 0x01;
      return { ...s, signature: sig };
    });
    return this.finish({ block: b.signed.block, signatures: sigs });
  }
}

export const tokenHex = hex;
