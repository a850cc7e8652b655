/**
 * The small typed interfaces every crypto kernel implements. Each has a single-thread
 * implementation; the expensive ones (Argon2id) also have a worker-pool implementation with a
 * bounded queue. Callers depend on these interfaces only, so tests can run one suite over every
 * implementation and benchmarks can compare them in the same run.
 */

/** Argon2id cost parameters (RFC 9106 §3.1). */
export interface Argon2idParams {
  /** Memory in KiB (m). At least 8 × lanes. */
  readonly mKiB: number;
  /** Passes (t), ≥ 1. */
  readonly t: number;
  /** Lanes (p), 1 ≤ p ≤ 2^24 − 1. */
  readonly p: number;
  /** Tag length in bytes, ≥ 4. */
  readonly outLen: number;
}

export interface Argon2idRequest {
  readonly password: Uint8Array;
  /** ≥ 8 bytes (libsodium's engine accepts exactly 16). */
  readonly salt: Uint8Array;
  readonly params: Argon2idParams;
  /** Optional secret value K. */
  readonly secret?: Uint8Array;
  /** Optional associated data X. */
  readonly ad?: Uint8Array;
}

export type Argon2idEngineName = 'wasm-simd' | 'native-sodium' | 'hash-wasm' | 'argon2-npm';

/** A kernel that hashes on the calling thread. */
export interface Argon2idSyncKernel {
  readonly name: Argon2idEngineName;
  /** False when this engine cannot compute the request (e.g. libsodium: p ≠ 1, salt ≠ 16 B). */
  supports(req: Argon2idRequest): boolean;
  hashSync(req: Argon2idRequest): Uint8Array;
}

/** Any engine, possibly off-thread (worker pool, libuv threadpool). */
export interface Argon2idEngine {
  readonly name: Argon2idEngineName;
  supports(req: Argon2idRequest): boolean;
  hash(req: Argon2idRequest): Promise<Uint8Array>;
  /** Releases workers; further calls reject. */
  close(): Promise<void>;
}

/** XChaCha20-Poly1305 (HChaCha20 subkey + IETF ChaCha20-Poly1305), 16-byte tag appended. */
export interface XAead {
  readonly name: string;
  /** Returns ciphertext ‖ tag (plaintext.length + 16 bytes). */
  seal(key: Uint8Array, nonce24: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  /** Returns the plaintext, or null when authentication fails. Never throws on bad input lengths of `sealed`. */
  open(key: Uint8Array, nonce24: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null;
  /**
   * Zero-copy seal for the frame path: writes ciphertext ‖ tag into `out`, which must be exactly
   * plaintext.length + 16 bytes (typically a subarray of the outgoing datagram after its header).
   */
  sealInto(out: Uint8Array, key: Uint8Array, nonce24: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): void;
  /**
   * Zero-copy open: decrypts into `out` (exactly sealed.length − 16 bytes). False when
   * authentication fails or a length is wrong; `out` then holds no plaintext. Never throws.
   */
  openInto(out: Uint8Array, key: Uint8Array, nonce24: Uint8Array, sealed: Uint8Array, ad: Uint8Array): boolean;
}

/** An Ed25519 signing key held in the form its implementation signs fastest with. */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export interface Ed25519Kernel {
  readonly name: string;
  /** RFC 8032 key from a 32-byte seed. */
  signerFromSeed(seed: Uint8Array): Ed25519Signer;
  /** False for any malformed signature or key (never throws). */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /** Birational map to Montgomery form (libsodium's ed25519_pk_to_curve25519); null for invalid points. */
  publicKeyToX25519(publicKey: Uint8Array): Uint8Array | null;
  /** The X25519 secret scalar for an Ed25519 seed (libsodium's ed25519_sk_to_curve25519). */
  seedToX25519(seed: Uint8Array): Uint8Array;
}

export interface X25519Kernel {
  readonly name: string;
  publicKey(secret: Uint8Array): Uint8Array;
  /** The shared secret, or null when it is all-zero (low-order or small-order peer key). */
  sharedSecret(secret: Uint8Array, theirPublic: Uint8Array): Uint8Array | null;
}

export interface Blake3Kernel {
  readonly name: string;
  hash(data: Uint8Array, outLen?: number): Uint8Array;
  keyedHash(key: Uint8Array, data: Uint8Array, outLen?: number): Uint8Array;
  deriveKey(context: string, material: Uint8Array, outLen?: number): Uint8Array;
}
