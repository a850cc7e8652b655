/**
 * The datagram transport seam (STYLE §2): one interface, a real UDP implementation and an
 * in-memory one for tests and the simulator (wireguard-go `conn.Bind` / `bindtest`).
 *
 * A transport moves opaque datagrams and knows nothing about frames. It counts what it receives
 * at the socket, so a test can compare the endpoint's counters with what actually arrived (the
 * kernel may drop datagrams under load before anyone sees them).
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, with IPv6 hosts in brackets: the key of per-address state. */
export function addressKey(a: PeerAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Called once per received datagram. The datagram is valid only during the call. A transport
 * may pass `fromKey` = `addressKey(from)` when it has it at hand (the UDP transport keeps one per
 * recent address, so the receive path builds no string per datagram); handlers that need the
 * key use `fromKey ?? addressKey(from)`.
 */
export type DatagramHandler = (datagram: Uint8Array, from: PeerAddress, fromKey?: string) => void;

export interface TransportStats {
  /** Datagrams delivered by the socket (or the in-memory network) to this transport. */
  readonly datagramsReceived: number;
  readonly bytesReceived: number;
  readonly datagramsSent: number;
  readonly bytesSent: number;
  /** Sends that failed (socket error, not started, datagram too large). */
  readonly sendErrors: number;
  /** Asynchronous socket errors seen (the socket stays open). */
  readonly socketErrors: number;
  /** Exceptions thrown by the datagram handler (caught here so the socket survives; a bug). */
  readonly handlerErrors: number;
}

export interface Transport {
  readonly kind: 'udp' | 'memory';
  /** The handler for incoming datagrams; set before start(). */
  onDatagram(handler: DatagramHandler): void;
  start(): Promise<void>;
  /** Closes the socket; idempotent. */
  stop(): Promise<void>;
  /** Fire-and-forget. `datagram` must not be modified afterwards (UDP sends asynchronously). */
  send(datagram: Uint8Array, to: PeerAddress): void;
  /** The bound address, or null when not started. */
  localAddress(): PeerAddress | null;
  stats(): TransportStats;
}

class Stats {
  datagramsReceived = 0;
  bytesReceived = 0;
  datagramsSent = 0;
  bytesSent = 0;
  sendErrors = 0;
  socketErrors = 0;
  handlerErrors = 0;
  snapshot(): TransportStats {
    return {
      datagramsReceived: this.datagramsReceived,
      bytesReceived: this.bytesReceived,
      datagramsSent: this.datagramsSent,
      bytesSent: this.bytesSent,
      sendErrors: this.sendErrors,
      socketErrors: this.socketErrors,
      handlerErrors: this.handlerErrors,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// UDP.

/** 4 MiB: loss-free to about 135k datagrams/s on loopback, against 33k with the default (perf-anchors §7). */
export const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;
export const DEFAULT_BIND_HOST = '127.0.0.1';

export interface UdpTransportOptions {
  /** Default 127.0.0.1: nothing listens beyond loopback unless asked to. */
  readonly host?: string;
  /** Default 0 (an ephemeral port). */
  readonly port?: number;
  /** Requested SO_RCVBUF (default 4 MiB). The kernel may cap it; see `recvBufferBytes()`. */
  readonly recvBufferSize?: number;
  /** Requested SO_SNDBUF (default: the kernel's). */
  readonly sendBufferSize?: number;
  /** Called for asynchronous socket errors (they are also counted). */
  readonly onError?: (err: Error) => void;
}

/**
 * Source addresses remembered by the UDP transport, direct-mapped by port (a power of two). A hit
 * (same host and port as the slot's entry) hands the handler the same frozen PeerAddress and key
 * string as last time: no allocation, and the key's hash is already computed for the endpoint's
 * per-address tables. A miss (a new address, or two addresses sharing a slot) builds them, as
 * without the cache. Fixed memory: one small entry per slot.
 */
export const ADDRESS_CACHE_SLOTS = 256;

interface CachedAddress {
  readonly host: string;
  readonly port: number;
  readonly address: PeerAddress;
  readonly key: string;
}

/** One UDP socket. */
export class UdpTransport implements Transport {
  readonly kind = 'udp' as const;
  private socket: dgram.Socket | null = null;
  private handler: DatagramHandler = () => {};
  private readonly s = new Stats();
  private recvBuffer = 0;
  private recvBufferCapped = false;
  private readonly addresses: (CachedAddress | undefined)[] = new Array<CachedAddress | undefined>(ADDRESS_CACHE_SLOTS).fill(undefined);

  constructor(private readonly opts: UdpTransportOptions = {}) {}

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  async start(): Promise<void> {
    if (this.socket !== null) return;
    const host = this.opts.host ?? DEFAULT_BIND_HOST;
    const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      this.s.datagramsReceived++;
      this.s.bytesReceived += msg.length;
      const port = rinfo.port;
      const host = rinfo.address;
      const slot = port & (ADDRESS_CACHE_SLOTS - 1);
      let a = this.addresses[slot];
      if (a === undefined || a.port !== port || a.host !== host) {
        const address: PeerAddress = Object.freeze({ host, port });
        a = { host, port, address, key: addressKey(address) };
        this.addresses[slot] = a;
      }
      try {
        this.handler(msg, a.address, a.key);
      } catch {
        this.s.handlerErrors++;
      }
    });
    socket.on('error', (err: Error) => {
      this.s.socketErrors++;
      this.opts.onError?.(err);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      socket.once('error', onError);
      socket.bind(this.opts.port ?? 0, host, () => {
        socket.off('error', onError);
        resolve();
      });
    }).catch((err: unknown) => {
      socket.close();
      throw err;
    });
    this.socket = socket;
    this.applyBufferSizes(socket);
  }

  /** Asks for the configured sizes; a kernel that refuses or caps them leaves what it grants. */
  private applyBufferSizes(socket: dgram.Socket): void {
    const want = this.opts.recvBufferSize ?? DEFAULT_RECV_BUFFER_BYTES;
    try {
      socket.setRecvBufferSize(want);
    } catch {
      this.recvBufferCapped = true; // keep the default buffer
    }
    try {
      this.recvBuffer = socket.getRecvBufferSize();
    } catch {
      this.recvBuffer = 0;
    }
    // Linux reports twice the requested size when granted, and caps silently at rmem_max.
    if (this.recvBuffer < want) this.recvBufferCapped = true;
    if (this.opts.sendBufferSize !== undefined) {
      try {
        socket.setSendBufferSize(this.opts.sendBufferSize);
      } catch {
        // keep the default
      }
    }
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    this.socket = null;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  send(datagram: Uint8Array, to: PeerAddress): void {
    const socket = this.socket;
    if (socket === null) {
      this.s.sendErrors++;
      return;
    }
    this.s.datagramsSent++;
    this.s.bytesSent += datagram.length;
    socket.send(datagram, to.port, to.host, (err) => {
      if (err) this.s.sendErrors++;
    });
  }

  /**
   * Pauses or resumes reading the socket; while paused, datagrams wait in the kernel's receive
   * buffer (SO_RCVBUF, 4 MiB by default) and do not wake the process (libuv may notice the pause
   * one wake-up late). Node's dgram has
   * no public pause: this calls the socket handle's `recvStop` / `recvStart`, which dgram itself
   * uses (the handle sits under dgram's 'state symbol'; the `_handle` getter is deprecated,
   * DEP0112). Returns false (and reading goes on) where they are not found or the socket is closed.
   */
  setReading(on: boolean): boolean {
    const socket = this.socket as unknown as Record<symbol, { handle?: Partial<Record<'recvStart' | 'recvStop', () => number>> } | undefined> | null;
    if (socket === null) return false;
    const state = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'state symbol');
    const handle = state === undefined ? undefined : socket[state]?.handle;
    const fn = handle?.[on ? 'recvStart' : 'recvStop'];
    if (typeof fn !== 'function') return false;
    return fn.call(handle) === 0;
  }

  localAddress(): PeerAddress | null {
    if (this.socket === null) return null;
    const a = this.socket.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  stats(): TransportStats {
    return this.s.snapshot();
  }

  /** SO_RCVBUF as the kernel reports it (Linux: twice the granted size), 0 before start. */
  recvBufferBytes(): number {
    return this.recvBuffer;
  }

  /** True when the kernel granted less than was asked for. */
  recvBufferWasCapped(): boolean {
    return this.recvBufferCapped;
  }
}

// ---------------------------------------------------------------------------------------------
// In memory.

export interface MemoryNetworkOptions {
  /**
   * Datagrams queued in the network at once (default 65 536), like a socket buffer: beyond it,
   * sends are dropped and counted.
   */
  readonly maxQueued?: number;
  /** Drop a datagram when this returns true (tests: loss, partitions). */
  readonly drop?: (datagram: Uint8Array, from: PeerAddress, to: PeerAddress) => boolean;
}

interface Queued {
  readonly datagram: Uint8Array;
  readonly from: PeerAddress;
  readonly to: PeerAddress;
}

/**
 * A loss-free (unless told otherwise) in-process datagram network. Delivery is asynchronous, in
 * send order, one setImmediate turn after the send, and copies the bytes, as a socket would.
 */
export class MemoryNetwork {
  private readonly nodes = new Map<string, MemoryTransport>();
  private queue: Queued[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private nextPort = 40_000;
  private readonly maxQueued: number;
  /** Datagrams dropped: queue full, no such address, or the `drop` knob. */
  dropped = 0;

  constructor(private readonly opts: MemoryNetworkOptions = {}) {
    this.maxQueued = Math.max(1, opts.maxQueued ?? 65_536);
  }

  /** A transport on `host:port` of this network (port 0 or absent: the next free one). */
  transport(opts: { readonly host?: string; readonly port?: number } = {}): MemoryTransport {
    return new MemoryTransport(this, opts.host ?? DEFAULT_BIND_HOST, opts.port ?? 0);
  }

  /** Puts a datagram on the wire with any source address (spoofing, for tests). */
  inject(datagram: Uint8Array, from: PeerAddress, to: PeerAddress): void {
    if (this.queue.length >= this.maxQueued || this.opts.drop?.(datagram, from, to) === true) {
      this.dropped++;
      return;
    }
    this.queue.push({ datagram: Uint8Array.from(datagram), from, to });
    if (this.immediate === null) this.immediate = setImmediate(() => this.deliver());
  }

  /** Cancels pending deliveries. */
  close(): void {
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.dropped += this.queue.length;
    this.queue = [];
  }

  /** @internal */
  bind(t: MemoryTransport, host: string, port: number): PeerAddress {
    let p = port;
    if (p === 0) {
      while (this.nodes.has(addressKey({ host, port: this.nextPort }))) this.nextPort++;
      p = this.nextPort++;
    }
    const a = { host, port: p };
    const k = addressKey(a);
    if (this.nodes.has(k)) throw new Error(`address in use: ${k}`);
    this.nodes.set(k, t);
    return a;
  }

  /** @internal */
  unbind(a: PeerAddress): void {
    this.nodes.delete(addressKey(a));
  }

  private deliver(): void {
    this.immediate = null;
    const batch = this.queue;
    this.queue = [];
    for (const q of batch) {
      const t = this.nodes.get(addressKey(q.to));
      if (t === undefined) {
        this.dropped++;
        continue;
      }
      t.receive(q.datagram, q.from);
    }
  }
}

export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  private handler: DatagramHandler = () => {};
  private bound: PeerAddress | null = null;
  private readonly s = new Stats();

  constructor(
    private readonly network: MemoryNetwork,
    private readonly host: string,
    private readonly port: number,
  ) {}

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  async start(): Promise<void> {
    if (this.bound === null) this.bound = this.network.bind(this, this.host, this.port);
  }

  async stop(): Promise<void> {
    if (this.bound !== null) this.network.unbind(this.bound);
    this.bound = null;
  }

  send(datagram: Uint8Array, to: PeerAddress): void {
    if (this.bound === null) {
      this.s.sendErrors++;
      return;
    }
    this.s.datagramsSent++;
    this.s.bytesSent += datagram.length;
    this.network.inject(datagram, this.bound, to);
  }

  /** @internal Delivery from the network. */
  receive(datagram: Uint8Array, from: PeerAddress): void {
    if (this.bound === null) return;
    this.s.datagramsReceived++;
    this.s.bytesReceived += datagram.length;
    try {
      this.handler(datagram, from);
    } catch {
      this.s.handlerErrors++;
    }
  }

  localAddress(): PeerAddress | null {
    return this.bound;
  }

  stats(): TransportStats {
    return this.s.snapshot();
  }
}
