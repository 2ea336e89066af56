/**
 * A server node of a cluster as the UDP driver sees it: one
 * {@linkcode Machine} whether this node leads (it runs the server core and
 * routes the core's datagrams and lines to the node each client talks to) or
 * follows (it forwards every datagram to the leader and sends what the
 * leader asks it to). See runtime/cluster_link.ts for the design.
 *
 * @module
 */
import { type Address, addressKey } from "../protocol/address.ts";
import type { Datagram } from "../protocol/datagram.ts";
import { RecentMap } from "../protocol/dedup.ts";
import type { Machine } from "../protocol/machine.ts";
import type { ServerEvent } from "../server/events.ts";
import type { ServerState } from "../server/state.ts";
import type { UserRecord } from "../server/user_records.ts";
import type { ClusterLink } from "./cluster_link.ts";

/** How long a client's node is remembered without hearing from it, in ms. */
const INGRESS_TTL_MS = 3_600_000;
/** Most clients whose node is remembered. */
const INGRESS_CAPACITY = 500_000;

/** What a node counts of its cluster traffic. */
export interface ClusterNodeStats {
  /** Datagrams forwarded to the leader (follower). */
  forwarded: number;
  /** Datagrams sent on the leader's behalf (follower). */
  relayed: number;
}

/** The node's machine: the core when leading, a forwarder when following. */
export class ClusterNode implements Machine<ServerEvent> {
  #link: ClusterLink;
  #core: ServerState | undefined;
  #ingress = new RecentMap<string, string>({
    ttl: INGRESS_TTL_MS,
    capacity: INGRESS_CAPACITY,
  });
  #toSend: Datagram[] = [];
  #events: ServerEvent[] = [];
  /** Counters of this node's cluster traffic. */
  readonly stats: ClusterNodeStats = { forwarded: 0, relayed: 0 };

  /** @param link The node's NATS side. */
  constructor(link: ClusterLink) {
    this.#link = link;
  }

  /** The core while this node leads. */
  get core(): ServerState | undefined {
    return this.#core;
  }

  /**
   * Leads with this core (made fresh, with what the store kept), or follows
   * (`undefined`).
   */
  setCore(core: ServerState | undefined): void {
    this.#core = core;
  }

  /**
   * The record with the node its client talks through now, if known: a
   * hint the next leader uses to reach a restored session
   * ({@linkcode restoreIngress}).
   */
  withNode(record: UserRecord): UserRecord {
    const node = this.#ingress.get(addressKey(record.address), Date.now());
    return node === undefined ? record : { ...record, node };
  }

  /**
   * (New leader) remembers the node of each restored session's client from
   * its record, until the client is heard from: what the core sends it
   * before then goes out through that node, the address it talks to.
   *
   * @param records The user records restored.
   * @param now The current time (ms).
   */
  restoreIngress(records: readonly UserRecord[], now: number): void {
    for (const r of records) {
      if (r.token === undefined || r.node === undefined) continue;
      const key = addressKey(r.address);
      if (this.#ingress.get(key, now) === undefined) {
        this.#ingress.set(key, r.node, now);
      }
    }
  }

  /** A datagram from a client on this node's UDP port. */
  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    if (this.#core === undefined) {
      this.stats.forwarded++;
      this.#link.forward({ from, bytes: bytes.slice() });
      return;
    }
    this.#handle(bytes, { from, node: this.#link.nodeId, now });
  }

  /** (Leader) a datagram a follower received. */
  receiveForwarded(
    bytes: Uint8Array,
    via: { from: Address; node: string; now: number },
  ): void {
    if (this.#core !== undefined) this.#handle(bytes, via);
  }

  /** A datagram the leader asks this node to send. */
  sendForLeader(datagram: Datagram): void {
    this.stats.relayed++;
    this.#toSend.push(datagram);
  }

  /** An event the leader's core reported about a client of this node. */
  showEvent(event: ServerEvent): void {
    this.#events.push(event);
  }

  /** Runs the core's timer (leader). */
  handleTimer(now: number): void {
    this.#core?.handleTimer(now);
  }

  /** The core's next deadline (leader). */
  getTimer(): number | undefined {
    return this.#core?.getTimer();
  }

  /**
   * The datagrams to send from this node's port: the core's for its own
   * clients (those for another node's clients are handed to that node), and
   * those the leader asked this node to send.
   */
  datagramsToSend(): Datagram[] {
    const out = this.#toSend.splice(0);
    const core = this.#core;
    if (core === undefined) return out;
    const self = this.#link.nodeId;
    const now = Date.now();
    for (const d of core.datagramsToSend()) {
      const node = this.#ingress.get(addressKey(d.to), now);
      if (node === undefined || node === self) out.push(d);
      else this.#link.sendVia(node, d);
    }
    return out;
  }

  /** The lines this node prints. */
  events(): ServerEvent[] {
    const core = this.#core;
    if (core !== undefined) this.#events.push(...core.events());
    return this.#events.splice(0);
  }

  // Feeds the core, remembering which node the client talks to, and sends
  // the lines this datagram caused to that node's console.
  #handle(
    bytes: Uint8Array,
    via: { from: Address; node: string; now: number },
  ): void {
    const core = this.#core!;
    this.#events.push(...core.events());
    this.#ingress.set(addressKey(via.from), via.node, via.now);
    core.receiveDatagram(bytes, via.from, via.now);
    if (via.node === this.#link.nodeId) return;
    for (const event of core.events()) this.#link.showOn(via.node, event);
  }
}
