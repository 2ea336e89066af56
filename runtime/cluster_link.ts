/**
 * Several server nodes, one chat: the NATS transport between `udpchat -s`
 * nodes that share one NATS (or NATS cluster) with `--store nats://...`.
 *
 * One node at a time leads: it holds the one server core (the users, the
 * table, deliveries) and is elected through a JetStream KV key with a time
 * to live (`udpchat_cluster`, key `leader`): the leader refreshes it by
 * compare-and-set every third of the lease; when it stops (killed, cut off),
 * the key expires and another node takes it. Every node keeps its UDP port:
 * a follower forwards each datagram it receives to the leader
 * (`udpchat.cluster.in`), and the leader sends its answers to a client
 * through the node that client talks to (`udpchat.cluster.out.<node>`), so
 * that every client keeps hearing from the address it sent to. Lines the
 * leader's core prints about what a node handled go to that node's console
 * (`udpchat.cluster.events.<node>`). Peer-to-peer traffic never crosses it.
 *
 * The NATS client (`@nats-io/transport-node`, `@nats-io/kv`) is loaded by
 * dynamic `import()` in {@linkcode ClusterLink.open} only.
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";

/** The KV bucket of the leader lease. */
export const CLUSTER_BUCKET = "udpchat_cluster";
/** The subject prefix of the cluster's traffic. */
export const CLUSTER_SUBJECT = "udpchat.cluster";
/**
 * How long a leader's lease lasts without a refresh, in ms: the longest a
 * chat is without a leader when one is killed (plus a third, the polling).
 */
export const LEASE_MS = 2_000;

/** Options of {@linkcode ClusterLink.open}. */
export interface ClusterLinkOptions {
  /** This node's id: letters, digits, `_` and `-` (a NATS subject token). */
  nodeId: string;
  /** The leader lease in ms (default {@linkcode LEASE_MS}). */
  leaseMs?: number;
  /** Copies JetStream keeps of the lease bucket: 3 on a NATS cluster (default 1). */
  replicas?: number;
}

/** A datagram forwarded from a follower to the leader. */
export interface ForwardedDatagram {
  /** The client's address, as the follower saw it. */
  from: Address;
  /** The datagram. */
  bytes: Uint8Array;
  /** The node that received it (its answers go back through it). */
  node: string;
}

/** What a {@linkcode ClusterLink} reports. */
export interface ClusterHandlers {
  /** This node became the leader (`true`) or stopped being it (`false`). */
  leadership(leader: boolean): void | Promise<void>;
  /** (Leader) a datagram a follower received. */
  forwarded(datagram: ForwardedDatagram): void;
  /** (Any node) a datagram the leader asks this node to send. */
  send(datagram: Datagram): void;
  /** (Any node) an event the leader's core reported about this node's client. */
  event(event: unknown): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The NATS side of a cluster node. */
export class ClusterLink {
  /** This node's id. */
  readonly nodeId: string;
  #nc: NatsConnection;
  #kv: KV;
  #lease: number;
  #handlers: ClusterHandlers | undefined;
  #leader = false;
  #revision = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #subs: Subscription[] = [];
  #ticking = false;
  #closed = false;

  private constructor(nc: NatsConnection, kv: KV, options: ClusterLinkOptions) {
    this.#nc = nc;
    this.#kv = kv;
    this.nodeId = options.nodeId;
    this.#lease = options.leaseMs ?? LEASE_MS;
  }

  /**
   * Connects to NATS (reconnecting forever) and makes the lease bucket.
   *
   * @param urls NATS server URLs (`nats://HOST:PORT`).
   * @param options This node's id and the lease.
   * @throws when NATS cannot be reached or JetStream is not enabled.
   */
  static async open(
    urls: string[],
    options: ClusterLinkOptions,
  ): Promise<ClusterLink> {
    const [transport, jetstreamModule, kvModule] = await Promise.all([
      import("@nats-io/transport-node"),
      import("@nats-io/jetstream"),
      import("@nats-io/kv"),
    ]);
    const nc = await transport.connect({
      servers: urls,
      name: `udpchat-${options.nodeId}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
    try {
      const js = jetstreamModule.jetstream(nc);
      const kv = await new kvModule.Kvm(js).create(CLUSTER_BUCKET, {
        ttl: options.leaseMs ?? LEASE_MS,
        history: 1,
        replicas: options.replicas ?? 1,
      });
      return new ClusterLink(nc, kv, options);
    } catch (e) {
      await nc.close();
      throw e;
    }
  }

  /** Whether this node holds the lease now. */
  get leader(): boolean {
    return this.#leader;
  }

  /**
   * Starts: subscribes to this node's subjects and competes for the lease.
   * Resolves after the first try, so a lone node leads when it resolves.
   *
   * @param handlers What to call back.
   */
  async start(handlers: ClusterHandlers): Promise<void> {
    this.#handlers = handlers;
    const base = CLUSTER_SUBJECT;
    this.#subscribe(`${base}.in`, (data) => {
      if (!this.#leader) return;
      const d = unpack(data);
      if (d !== undefined) handlers.forwarded(d);
    });
    this.#subscribe(`${base}.out.${this.nodeId}`, (data) => {
      const d = unpack(data);
      if (d !== undefined) handlers.send({ to: d.from, bytes: d.bytes });
    });
    this.#subscribe(`${base}.events.${this.nodeId}`, (data) => {
      try {
        handlers.event(JSON.parse(decoder.decode(data)));
      } catch {
        // Not ours: ignored.
      }
    });
    this.#timer = setInterval(
      () => void this.#tick(),
      Math.max(50, this.#lease / 3),
    );
    await this.#tick();
  }

  /** (Follower) forwards a client's datagram to the leader. */
  forward(datagram: { from: Address; bytes: Uint8Array }): void {
    this.#publish(
      `${CLUSTER_SUBJECT}.in`,
      pack({ ...datagram, node: this.nodeId }),
    );
  }

  /** (Leader) asks `node` to send a datagram from its UDP port. */
  sendVia(node: string, datagram: Datagram): void {
    this.#publish(
      `${CLUSTER_SUBJECT}.out.${node}`,
      pack({ from: datagram.to, bytes: datagram.bytes, node }),
    );
  }

  /** (Leader) shows an event on `node`'s console. */
  showOn(node: string, event: unknown): void {
    this.#publish(
      `${CLUSTER_SUBJECT}.events.${node}`,
      encoder.encode(JSON.stringify(event)),
    );
  }

  /** Leaves: gives the lease up (if held) and closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#leader) {
      try {
        await this.#kv.delete("leader", { previousSeq: this.#revision });
      } catch {
        // Someone else has it, or NATS is gone: the lease expires anyway.
      }
    }
    for (const s of this.#subs) s.unsubscribe();
    await this.#nc.close();
  }

  #subscribe(subject: string, on: (data: Uint8Array) => void): void {
    this.#subs.push(
      this.#nc.subscribe(subject, { callback: (_e, m) => on(m.data) }),
    );
  }

  #publish(subject: string, data: Uint8Array): void {
    try {
      this.#nc.publish(subject, data);
    } catch {
      // Disconnected: the client retransmits, the datagram is lost.
    }
  }

  // Refreshes the lease (leader) or tries to take it (follower).
  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    try {
      if (this.#leader) {
        this.#revision = await this.#kv.update(
          "leader",
          this.nodeId,
          this.#revision,
        );
      } else {
        this.#revision = await this.#kv.create("leader", this.nodeId);
        this.#setLeader(true);
      }
    } catch {
      // A leader that could not refresh steps down only once it knows the
      // lease is another node's. While NATS does not answer it goes on
      // leading: its clients keep chatting, saves are refused as the store
      // is unavailable, and a node that took the lease meanwhile is seen
      // as soon as NATS answers again.
      if (this.#leader && await this.#lostLease()) this.#setLeader(false);
    } finally {
      this.#ticking = false;
    }
  }

  // Whether the lease is known to be lost: held by another node, or gone
  // and taken by another before this one could take it back. Unknown (NATS
  // does not answer): not lost.
  async #lostLease(): Promise<boolean> {
    try {
      const entry = await this.#kv.get("leader");
      if (entry !== null && entry.operation === "PUT") {
        if (entry.string() !== this.nodeId) return true;
        this.#revision = entry.revision;
        return false;
      }
    } catch {
      return this.#nc.isClosed();
    }
    try {
      this.#revision = await this.#kv.create("leader", this.nodeId);
      return false;
    } catch {
      // Taken meanwhile, or NATS stopped answering: ask once more.
      try {
        const entry = await this.#kv.get("leader");
        return entry !== null && entry.operation === "PUT" &&
          entry.string() !== this.nodeId;
      } catch {
        return this.#nc.isClosed();
      }
    }
  }

  // The handler runs on its own: the lease goes on being refreshed while it
  // works (a new leader loads the stored messages).
  #setLeader(leader: boolean): void {
    if (this.#leader === leader || this.#closed) return;
    this.#leader = leader;
    void this.#handlers?.leadership(leader);
  }
}

// A datagram with an address and a node id, as one NATS payload:
// [host length][host][port (2 bytes)][node length][node][datagram].
function pack(d: ForwardedDatagram): Uint8Array {
  const host = encoder.encode(d.from.hostname);
  const node = encoder.encode(d.node);
  const out = new Uint8Array(4 + host.length + node.length + d.bytes.length);
  let i = 0;
  out[i++] = host.length;
  out.set(host, i);
  i += host.length;
  out[i++] = d.from.port >> 8;
  out[i++] = d.from.port & 0xff;
  out[i++] = node.length;
  out.set(node, i);
  i += node.length;
  out.set(d.bytes, i);
  return out;
}

function unpack(data: Uint8Array): ForwardedDatagram | undefined {
  if (data.length < 4) return undefined;
  let i = 0;
  const hostLength = data[i++];
  if (i + hostLength + 3 > data.length) return undefined;
  const hostname = decoder.decode(data.subarray(i, i + hostLength));
  i += hostLength;
  const port = (data[i] << 8) | data[i + 1];
  i += 2;
  const nodeLength = data[i++];
  if (i + nodeLength > data.length) return undefined;
  const node = decoder.decode(data.subarray(i, i + nodeLength));
  i += nodeLength;
  return { from: { hostname, port }, node, bytes: data.slice(i) };
}
