/**
 * One simulated peer: the daemon's protocol composition (daemon/core-node.ts) over a memory
 * store, with its Connected set from the simulated topology.
 */
import { CoreNode } from '../../daemon/core-node.js';
import type { ConsensusCrypto, Output, SubmitOutput } from '../../consensus/peer.js';
import type { ConsensusParams } from '../../consensus/params.js';
import type { PeerIds } from '../../consensus/keys.js';
import type { Message } from '../../consensus/messages.js';
import type { SignedBlock } from '../../wire/block.js';
import { MemoryStore } from '../../store/memory.js';

export type NodeOutput = Output;

export interface SimNodeModules {
  readonly crypto: ConsensusCrypto;
  readonly random: (n: number) => Uint8Array;
  readonly peerIds: PeerIds;
  /** The store of a restarted peer (churn); a fresh one otherwise. */
  readonly store?: MemoryStore;
}

export interface SimNodeOptions {
  readonly address: Uint8Array;
  readonly params: ConsensusParams;
  readonly connected: readonly Uint8Array[];
}

export class SimNode {
  readonly store: MemoryStore;
  private readonly node: CoreNode;

  constructor(modules: SimNodeModules, options: SimNodeOptions) {
    this.store = modules.store ?? new MemoryStore();
    this.node = new CoreNode({ crypto: modules.crypto, store: this.store, random: modules.random, peerIds: modules.peerIds }, { address: options.address, params: options.params });
    this.node.setPeers(options.connected);
  }

  setVoting(votes: boolean): void {
    this.node.core.setVoting(votes);
  }

  setPeers(connected: readonly Uint8Array[], pending: readonly Uint8Array[] = []): void {
    this.node.setPeers(connected, pending);
  }

  get core(): CoreNode['core'] {
    return this.node.core;
  }

  receive(now: number, from: Uint8Array, message: Message, order: number): Output {
    return this.node.receive(now, from, message, order);
  }

  submit(now: number, signed: SignedBlock): SubmitOutput {
    return this.node.submit(now, signed);
  }

  tick(now: number): Output {
    return this.node.tick(now);
  }
}
