/**
 * The protocol composition every peer runs, in the daemon and in the simulator alike: the
 * consensus core over a store, with the core's contract kept in one place (a commit batch is
 * applied, atomically, before any message of the same output leaves). Transport, clock,
 * randomness, store and crypto are injected; the daemon wraps this in UDP frames and LMDB, the
 * simulator in an in-memory network and a memory store.
 */
import { ConsensusPeer } from '../consensus/peer.js';
import type { ConsensusCrypto, Output, SubmitOutput } from '../consensus/peer.js';
import type { ConsensusParams } from '../consensus/params.js';
import type { PeerIds } from '../consensus/keys.js';
import type { Message } from '../consensus/messages.js';
import type { SignedBlock } from '../wire/block.js';
import type { Store } from '../store/types.js';

export interface CoreNodeModules {
  readonly crypto: ConsensusCrypto;
  readonly store: Store;
  readonly random: (n: number) => Uint8Array;
  readonly peerIds?: PeerIds;
}

export interface CoreNodeOptions {
  readonly address: Uint8Array;
  readonly params: ConsensusParams;
}

export class CoreNode {
  readonly core: ConsensusPeer;
  readonly store: Store;

  constructor(modules: CoreNodeModules, options: CoreNodeOptions) {
    this.store = modules.store;
    this.core = new ConsensusPeer(
      { crypto: modules.crypto, store: modules.store, random: modules.random, ...(modules.peerIds === undefined ? {} : { peerIds: modules.peerIds }) },
      { address: options.address, params: options.params },
    );
  }

  setPeers(connected: Iterable<Uint8Array>, pending: Iterable<Uint8Array> = []): void {
    this.core.setPeers(connected, pending);
  }

  /** `order`: the sender's packet number. `client`: the sender holds a client ticket. */
  receive(now: number, from: Uint8Array, message: Message, order?: number, client = false): Output {
    return this.commit(this.core.receive(now, from, message, { ...(order === undefined ? {} : { order }), client }));
  }

  submit(now: number, signed: SignedBlock): SubmitOutput {
    return this.commit(this.core.submit(now, signed));
  }

  tick(now: number): Output {
    return this.commit(this.core.tick(now));
  }

  /** Applies the output's batch durably; a store failure throws before any message is sent. */
  private commit<T extends Output>(out: T): T {
    if (out.batch !== null) this.store.apply(out.batch);
    return out;
  }
}
