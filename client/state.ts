/**
 * The client's rules as a sans-I/O state machine: typed commands, datagrams
 * and the current time go in; datagrams to send, typed events and the next
 * timer deadline come out. No sockets, no timers, no clock.
 *
 * This is the façade: it opens (`transit.ts`), decodes and authenticates
 * datagrams, hands typed lines on, names its timers and dispatches to the
 * parts, each of which owns its state: {@linkcode ServerRequests},
 * {@linkcode Peers}, {@linkcode TableReplica}, {@linkcode Inbox},
 * {@linkcode Receipts} and {@linkcode TypedLines}.
 *
 * @module
 */
import { type Address, addressKey, sameAddress } from "../protocol/address.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { Machine } from "../protocol/machine.ts";
import type { AckMessage, ChatMessage, Row } from "../protocol/messages.ts";
import { RateLimiter } from "../protocol/rate_limit.ts";
import {
  PEER_BURST,
  PEER_RATE_PER_SECOND,
  TABLE_WAIT_MS,
} from "./constants.ts";
import { ClientContext, type ClientOptions } from "./context.ts";
import type {
  ClientDropReason,
  ClientEvent,
  ClientExit,
  ClientPhase,
  Outcomes,
} from "./events.ts";
import { type Arrival, Inbox, type PartAck } from "./inbox.ts";
import { Keepalive } from "./keepalive.ts";
import { Peers } from "./peers.ts";
import { Receipts } from "./receipts.ts";
import { ServerRequests, type Welcome } from "./server_requests.ts";
import { Outgoing } from "./outgoing.ts";
import { TableReplica } from "./table_replica.ts";
import { ClientTransit } from "./transit.ts";
import { TypedLines } from "./typed_lines.ts";

export type { ClientOptions } from "./context.ts";
export type { ClientPhase, Outcomes } from "./events.ts";

/**
 * The udpchat client as a state machine.
 *
 * @example Usage
 * ```ts
 * import { ClientState } from "./state.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const client = new ClientState({
 *   name: "userA",
 *   server: { hostname: "127.0.0.1", port: 5000 },
 *   random: (n) => new Uint8Array(n),
 * });
 * client.start(0);
 * assertEquals(client.datagramsToSend().length, 1); // the registration
 * client.command("help", 0);
 * assertEquals(client.events()[0], { type: "help", command: "send" });
 * ```
 */
export class ClientState implements Machine<ClientEvent> {
  #ctx: ClientContext;
  #requests: ServerRequests;
  #receipts: Receipts;
  #table: TableReplica;
  #peers: Peers;
  #inbox: Inbox;
  #keepalive: Keepalive;
  #outgoing: Outgoing;
  #transit: ClientTransit;
  #limiter = new RateLimiter({
    burst: PEER_BURST,
    rate: PEER_RATE_PER_SECOND,
  });
  #lines: TypedLines;
  // Timer: after a welcome, when to ask for a table that has not come.
  #tableDue: number | undefined;

  /**
   * Makes a client that has not yet registered: call `start`.
   *
   * @param options Name, server address and randomness.
   */
  constructor(options: ClientOptions) {
    const ctx = this.#ctx = new ClientContext(options);
    this.#transit = new ClientTransit(options.agreement, {
      random: options.random,
    });
    this.#receipts = new Receipts(ctx, {
      isPending: (k) => this.#requests.carries(k),
    });
    this.#requests = new ServerRequests(ctx, {
      receipts: this.#receipts,
      hooks: {
        beforeSend: (kind, attempt) => {
          if (kind === "reg") this.#table.expectWelcome();
          if (attempt === 0) this.#table.expectSnapshot();
        },
        welcomed: (welcome, now) => this.#welcomed(welcome, now),
        deregistered: () => {
          this.#keepalive.stop();
          this.#table.discardPartial();
        },
        restarted: (boot) => this.#keepalive.restarted(boot),
      },
    });
    this.#keepalive = new Keepalive(ctx, {
      intervalMs: options.keepaliveMs,
      random: options.random,
      busy: () => !this.#requests.idle,
      token: () => this.#requests.token,
      recover: (reason, now) => this.#requests.recover(reason, now),
    });
    this.#table = new TableReplica(ctx, {
      missed: (now) => {
        // A version was missed: ask for a full snapshot.
        if (ctx.phase === "online" && !this.#requests.syncQueued) {
          this.#requests.request({ kind: "sync" }, now);
        }
      },
      rowChanged: (name) => this.#peers.rowChanged(name),
      looked: (_name, now) => this.#peers.retryQueued(now),
      token: () => this.#requests.token,
      applied: (now) => this.#tableApplied(now),
      shown: (now) => {
        this.#tableDue = undefined;
        this.#inbox.flush();
        this.#lines.runHeld(now);
      },
    });
    this.#peers = new Peers(ctx, {
      table: this.#table,
      requests: this.#requests,
      receipts: this.#receipts,
    });
    this.#outgoing = new Outgoing(ctx, {
      receipts: this.#receipts,
      requests: this.#requests,
      peers: this.#peers,
    });
    this.#inbox = new Inbox(ctx, {
      table: this.#table,
      regPending: () => this.#requests.regPending,
    });
    this.#lines = new TypedLines(ctx, {
      outgoing: this.#outgoing,
      requests: this.#requests,
      ready: () => this.#ready,
    });
  }

  /** Where the client is in its life. */
  get phase(): ClientPhase {
    return this.#ctx.phase;
  }

  /** The decision to exit, once made; the adapter maps it to an exit status. */
  get exit(): ClientExit | undefined {
    return this.#ctx.exit;
  }

  /** The table as this client knows it, in registration order. */
  get table(): readonly Row[] {
    return this.#table.rows;
  }

  /** Counts of what became of this client's messages. */
  get outcomes(): Readonly<Outcomes> {
    return this.#ctx.outcomes;
  }

  /** Dropped datagrams by reason. */
  get dropped(): Readonly<Partial<Record<ClientDropReason, number>>> {
    return this.#ctx.dropped;
  }

  /**
   * Whether nothing this client started is still under way: no request, no
   * message awaiting an ACK or a final notice, no offline list half shown.
   */
  get idle(): boolean {
    return this.#requests.idle && this.#peers.idle &&
      this.#receipts.settled && this.#lines.settled &&
      this.#inbox.settled && this.#table.settled && this.#ready;
  }

  // Registered and holding the table the server sent after the last welcome.
  // (While a `reg` is under way, what is typed waits for it.)
  get #ready(): boolean {
    if (this.#requests.regPending) return false;
    const phase = this.#ctx.phase;
    return phase === "offline" || (phase === "online" && this.#table.shown);
  }

  /** Registers with the server. */
  start(now: number): void {
    this.#requests.request({ kind: "reg", reason: "start" }, now);
  }

  /** Handles one typed line (typed_lines.ts). */
  command(line: string, now: number): void {
    this.#lines.command(line, now);
  }

  /** Handles one received datagram. */
  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    const ctx = this.#ctx;
    if (ctx.phase === "exited") return;
    const fromServer = sameAddress(from, ctx.server);
    if (!fromServer && !this.#limiter.allow(addressKey(from), now)) {
      return ctx.drop("rate");
    }
    // Transit sealing (protocol/transit_crypto.ts): the server's envelopes
    // are opened; peers do not wrap theirs.
    const opened = this.#transit.receive(bytes, { fromServer });
    if (!opened.ok) return ctx.drop(opened.reason);
    const decoded = decodeMessage(opened.bytes);
    if (!decoded.ok) return ctx.drop(decoded.reason);
    if (fromServer) {
      ctx.serverAnswered();
      this.#keepalive.heard();
    }
    const m = decoded.message;
    if (fromServer && m.t === "err" && this.#transit.lostSession(m)) {
      // The server does not know our transit session (it restarted): its
      // answer cannot name the sealed request, so it answers the one under way.
      const restarted = this.#keepalive.restarted(m.boot);
      return this.#requests.sessionLost(m, { restarted, now });
    }
    const arrival = { from, now };
    switch (m.t) {
      case "ack":
        if (fromServer && this.#keepalive.answer(m, now)) return;
        if (fromServer && this.#table.answer(m, now)) return;
        return this.#onAck(m, arrival);
      case "retry":
      case "welcome":
      case "err": {
        if (!fromServer) return ctx.drop("not_server");
        if (m.t === "err" && this.#keepalive.answer(m, now)) return;
        if (m.t === "err" && this.#table.answer(m, now)) return;
        const dropped = this.#requests.answer(m, now);
        if (dropped !== undefined) ctx.drop(dropped);
        return;
      }
      case "tbl":
      case "sum":
      case "note":
      case "ping":
        if (!fromServer) return ctx.drop("not_server");
        if (ctx.phase === "offline") return ctx.drop("offline");
        ctx.sendAck(m.id, from);
        if (this.#inbox.seenBefore(m.id, arrival)) {
          return ctx.drop("duplicate");
        }
        if (m.t === "tbl") return this.#table.receive(m, now);
        if (m.t === "sum") return this.#table.receiveSummary(m, now);
        if (m.t === "note") return this.#receipts.receive(m, now);
        return;
      case "msg":
        return this.#onChat(m, arrival);
      default:
        return ctx.drop("unexpected");
    }
  }

  /** Handles the timer: retransmissions and timeouts. */
  handleTimer(now: number): void {
    const ctx = this.#ctx;
    if (ctx.phase === "exited") return;
    ctx.retransmitter.poll(now);
    if (ctx.exit !== undefined) return;
    this.#keepalive.handleTimer(now);
    if (this.#tableDue !== undefined && now >= this.#tableDue) {
      // Registered, but the table never came: ask for it (and if the server
      // has meanwhile given up on us, the answer makes us register again).
      this.#tableDue = undefined;
      if (
        ctx.phase === "online" && !this.#table.shown &&
        !this.#requests.regPending
      ) {
        this.#requests.request({ kind: "sync" }, now);
        this.#tableDue = now + TABLE_WAIT_MS;
      }
    }
  }

  /** The next time {@linkcode handleTimer} must run, if any. */
  getTimer(): number | undefined {
    if (this.#ctx.phase === "exited") return undefined;
    const deadlines = [
      this.#ctx.retransmitter.nextTimer(),
      this.#tableDue,
      this.#keepalive.due,
    ].filter((t) => t !== undefined);
    return deadlines.length === 0 ? undefined : Math.min(...deadlines);
  }

  /** Takes the datagrams to send. */
  datagramsToSend(): Datagram[] {
    const server = this.#ctx.server;
    return this.#transit.seal(
      this.#ctx.out.take(),
      (d) => sameAddress(d.to, server),
    );
  }

  /** Takes the events to show, in order. */
  events(): ClientEvent[] {
    return this.#ctx.takeEvents();
  }

  // ---- what the parts report ----------------------------------------------

  #welcomed(welcome: Welcome, now: number): void {
    this.#transit.welcome(welcome.message.sk);
    this.#peers.forgetUnreachable();
    this.#tableDue = now + TABLE_WAIT_MS;
    // A re-login while Online (`off` 0) starts no list: the server goes on
    // delivering the earlier one, which stays open.
    if (welcome.message.off > 0) this.#inbox.startList(welcome.message);
    if (welcome.reason === "start") {
      this.#ctx.emit({ type: "welcome", name: this.#ctx.name });
    } else if (welcome.reason === "restarted") {
      this.#ctx.emit({ type: "server_restarted" });
    }
    this.#keepalive.welcomed(welcome.message.boot, now);
    this.#table.welcome(now);
  }

  #tableApplied(now: number): void {
    const ctx = this.#ctx;
    if (
      this.#table.row(ctx.name)?.[3] === 0 && ctx.phase === "online" &&
      this.#table.welcomed && !this.#requests.regPending
    ) {
      // The server gave up on us (our ACKs were lost) but we are here: rejoin.
      ctx.emit({ type: "rejoin" });
      this.#requests.request({ kind: "reg", reason: "rejoin" }, now);
    }
    // Peers that went Offline: queued messages go through the server.
    this.#peers.retryQueued(now);
  }

  // ---- datagrams ------------------------------------------------------------

  #onAck(m: AckMessage, arrival: Arrival): void {
    if (!this.#requests.screenAck(m)) return this.#ctx.drop("unexpected");
    if (m.r === "held") this.#peers.held(m.id, arrival.from);
    if (!this.#ctx.retransmitter.ack(m.id, arrival.from, arrival.now)) {
      this.#ctx.drop("stray_ack");
    }
  }

  // Authenticates a chat message part, ACKs it, and hands a new one on.
  #onChat(m: ChatMessage, arrival: Arrival): void {
    const ctx = this.#ctx, { from } = arrival;
    if (ctx.phase !== "online") return ctx.drop("offline");
    if (!sameAddress(from, ctx.server)) {
      // A peer message must come from the address the table gives its sender.
      const row = this.#table.row(m.from);
      if (row === undefined && this.#table.summarized) {
        // A big room: learn the sender's row; its next try is checked.
        this.#table.lookup(m.from, arrival.now);
      }
      if (
        row === undefined || row[1] !== from.hostname || row[2] !== from.port
      ) {
        return ctx.drop("impersonation");
      }
      // Only the server sends the offline list.
      if (m.o !== undefined) return ctx.drop("unexpected");
    }
    // "Received" means shown: a part whose message was not shown is ACKed
    // `held` (protocol/README.md).
    if (this.#inbox.seenBefore(m.id, arrival)) {
      this.#ackPart(m, this.#inbox.ackFor(m, arrival), from);
      return ctx.drop("duplicate");
    }
    this.#ackPart(m, this.#inbox.receive(m, arrival), from);
  }

  #ackPart(m: ChatMessage, how: PartAck, to: Address): void {
    if (how === "shown") return this.#ctx.sendAck(m.id, to);
    this.#ctx.out.push({
      to,
      bytes: encodeMessage({ t: "ack", id: m.id, r: "held" }),
    });
  }
}
