/**
 * The client's rules as a sans-I/O state machine: typed commands, datagrams
 * and the current time go in; datagrams to send, typed events and the next
 * timer deadline come out. No sockets, no timers, no clock.
 *
 * This is the façade: it decodes and authenticates datagrams, runs commands,
 * names its timers and dispatches to the parts, each of which owns its
 * state: {@linkcode ServerRequests}, {@linkcode Peers},
 * {@linkcode TableReplica}, {@linkcode Inbox} and {@linkcode Receipts}.
 *
 * @module
 */
import { type Address, addressKey, sameAddress } from "../protocol/address.ts";
import {
  decodeMessage,
  encodeMessage,
  isValidName,
} from "../protocol/codec.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { Machine } from "../protocol/machine.ts";
import type { AckMessage, ChatMessage, Row } from "../protocol/messages.ts";
import { RateLimiter } from "../protocol/rate_limit.ts";
import { COMMAND_NAMES, parseCommand } from "./commands.ts";
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
import { TableReplica } from "./table_replica.ts";
import { splitMessage, toParts } from "./text_parts.ts";

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
  #limiter = new RateLimiter({
    burst: PEER_BURST,
    rate: PEER_RATE_PER_SECOND,
  });
  // Lines typed before the client was ready, run when it is.
  #typed: string[] = [];
  // Timer: after a welcome, when to ask for a table that has not come.
  #tableDue: number | undefined;
  // The messages sent, by key, while their fate may be unknown: what `exit`
  // names as not sent.
  #sent = new Map<string, { to: string | null; message: string }>();

  /**
   * Makes a client that has not yet registered: call `start`.
   *
   * @param options Name, server address and randomness.
   */
  constructor(options: ClientOptions) {
    const ctx = this.#ctx = new ClientContext(options);
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
        for (const line of this.#typed.splice(0)) this.command(line, now);
      },
    });
    this.#peers = new Peers(ctx, {
      table: this.#table,
      requests: this.#requests,
      receipts: this.#receipts,
    });
    this.#inbox = new Inbox(ctx, {
      table: this.#table,
      regPending: () => this.#requests.regPending,
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
      this.#receipts.settled && this.#typed.length === 0 &&
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

  /** Handles one typed line. */
  command(line: string, now: number): void {
    const ctx = this.#ctx;
    if (ctx.phase === "exited") return;
    const c = parseCommand(line);
    switch (c.cmd) {
      case "empty":
        return;
      case "exit":
        this.#abandon();
        return ctx.exitWith("done");
      case "help":
        for (const command of COMMAND_NAMES) {
          ctx.emit({ type: "help", command });
        }
        return;
      case "usage":
        return ctx.emit({ type: "usage", command: c.command });
      case "unknown":
        return ctx.emit({ type: "unknown_command", word: c.word });
    }
    if (!this.#ready) {
      // Not registered, or the table has not arrived yet: run it when it has.
      this.#typed.push(line);
      return;
    }
    if (ctx.phase === "offline" && c.cmd !== "reg") {
      if (c.cmd === "dereg" && c.name === ctx.name) {
        return ctx.emit({ type: "offline" });
      }
      if (c.cmd === "dereg") return ctx.emit({ type: "incorrect_username" });
      return ctx.emit({ type: "offline_hint", name: ctx.name });
    }
    switch (c.cmd) {
      case "send":
        return this.#send(c, now);
      case "send_all":
        return this.#sendAll(c.text, now);
      case "dereg":
      case "reg":
        if (c.name !== ctx.name) {
          return ctx.emit({ type: "incorrect_username" });
        }
        return this.#requests.request(
          c.cmd === "reg"
            ? { kind: "reg", reason: "command" }
            : { kind: "dereg" },
          now,
        );
    }
  }

  /** Handles one received datagram. */
  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    const ctx = this.#ctx;
    if (ctx.phase === "exited") return;
    const fromServer = sameAddress(from, ctx.server);
    if (!fromServer && !this.#limiter.allow(addressKey(from), now)) {
      return ctx.drop("rate");
    }
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) return ctx.drop(decoded.reason);
    if (fromServer) ctx.serverAnswered();
    const m = decoded.message;
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
    return this.#ctx.out.take();
  }

  /** Takes the events to show, in order. */
  events(): ClientEvent[] {
    return this.#ctx.takeEvents();
  }

  // ---- commands ---------------------------------------------------------

  #send(c: { to: string; text: string }, now: number): void {
    const texts = this.#split(c.text);
    if (texts === undefined) return;
    if (!isValidName(c.to)) {
      this.#ctx.outcomes.refused++;
      return this.#ctx.emit({ type: "unknown_user", name: c.to });
    }
    const k = this.#ctx.nextKey();
    this.#remember(k, { to: c.to, message: c.text });
    this.#receipts.expect(k, "private");
    this.#peers.send({ to: c.to, parts: toParts(k, texts), text: c.text }, now);
  }

  #sendAll(text: string, now: number): void {
    const texts = this.#split(text);
    if (texts === undefined) return;
    const k = this.#ctx.nextKey();
    this.#remember(k, { to: null, message: text });
    this.#receipts.expect(k, "group");
    this.#requests.sendGroup(toParts(k, texts), now);
  }

  // Keeps a sent message's text until its fate is known.
  #remember(k: string, sent: { to: string | null; message: string }): void {
    for (const key of this.#sent.keys()) {
      if (!this.#receipts.awaiting(key)) this.#sent.delete(key);
    }
    this.#sent.set(k, sent);
  }

  // Leaving: names each message whose fate is unknown (Ctrl+C while a
  // request is under way must not drop a `send_all` without a word). A
  // group message counts once the server has ACKed it; a private one once
  // its recipient ACKed it or the server saved it.
  #abandon(): void {
    const ctx = this.#ctx;
    for (const [k, sent] of this.#sent) {
      const open = sent.to === null
        ? this.#requests.carries(k)
        : this.#receipts.awaiting(k);
      if (open) ctx.emit({ type: "abandoned", ...sent });
    }
    this.#sent.clear();
    // Lines typed before the client was ready never ran.
    for (const line of this.#typed.splice(0)) {
      const c = parseCommand(line);
      if (c.cmd === "send") {
        ctx.emit({ type: "abandoned", to: c.to, message: c.text });
      } else if (c.cmd === "send_all") {
        ctx.emit({ type: "abandoned", to: null, message: c.text });
      }
    }
  }

  // The message's texts, or nothing when it is refused before sending.
  #split(text: string): string[] | undefined {
    const split = splitMessage(text);
    if (split.ok) return split.parts;
    this.#ctx.outcomes.refused++;
    this.#ctx.emit(split.event);
    return undefined;
  }

  // ---- what the parts report ----------------------------------------------

  #welcomed(welcome: Welcome, now: number): void {
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
