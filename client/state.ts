/**
 * The client's rules as a sans-I/O state machine: typed commands, datagrams
 * and the current time go in; datagrams to send, lines to print and the next
 * timer deadline come out. No sockets, no timers, no clock.
 *
 * @module
 */
import { EXIT_FAILURE, EXIT_NAME_IN_USE, EXIT_OK } from "../cli/exit_codes.ts";
import { type Address, addressKey, sameAddress } from "../protocol/address.ts";
import {
  decodeMessage,
  encodeMessage,
  isValidName,
} from "../protocol/codec.ts";
import {
  ACK_WINDOW_MS,
  MAX_MESSAGE_BYTES,
  MAX_PARTS,
  SERVER_RETRIES,
  TABLE_PRINT_LIMIT,
} from "../protocol/constants.ts";
import type { Datagram } from "../protocol/datagram.ts";
import { RecentMap } from "../protocol/dedup.ts";
import type { EventKind, OutputEvent } from "../protocol/events.ts";
import type {
  ChatMessage,
  ErrMessage,
  Message,
  NoteMessage,
  Row,
  TableMessage,
} from "../protocol/messages.ts";
import { RateLimiter } from "../protocol/rate_limit.ts";
import { Reassembler } from "../protocol/reassembly.ts";
import { Retransmitter } from "../protocol/_legacy_reliable.ts";
import { formatTable, summarizeTable } from "../protocol/table.ts";
import { fitsMessageLimit, splitText, utf8Length } from "../protocol/text.ts";
import { clockOf } from "../protocol/time.ts";
import { COMMAND_HELP, parseCommand } from "./commands.ts";

// How long after a welcome the table may take before the client asks again.
const TABLE_WAIT_MS = 2_000;

/** Options for {@linkcode ClientState}. */
export interface ClientOptions {
  /** This user's name. */
  name: string;
  /** The server's address (an IP literal). */
  server: Address;
  /** Random bytes, for the session nonce and the first request id. */
  random: (length: number) => Uint8Array;
}

/** Where the client is in its life. */
export type ClientPhase = "registering" | "online" | "offline" | "exited";

/** What became of the messages this client sent, for `--exec` exit codes. */
export interface Outcomes {
  /** Messages ACKed by their recipient (or, for a group message, by the server). */
  delivered: number;
  /** Messages saved by the server for an Offline recipient. */
  saved: number;
  /** Messages refused: unknown user, too long, or a full server. */
  refused: number;
}

type ServerRequest =
  | { kind: "reg"; first: boolean; ck?: string }
  | { kind: "dereg" }
  | { kind: "sync" }
  | { kind: "all"; k: string; pi: number; pn: number; text: string }
  | {
    kind: "save";
    to: string;
    k: string;
    pi: number;
    pn: number;
    text: string;
  };

interface InFlightRequest {
  req: ServerRequest;
  id: number;
  attempt: number;
}

interface PeerSend {
  to: string;
  text: string;
  k: string;
  partsLeft: number;
  ids: number[];
}

type Pending =
  | { kind: "request"; flight: InFlightRequest }
  | { kind: "peer"; send: PeerSend };

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
 * ```
 */
export class ClientState {
  #name: string;
  #server: Address;
  #out: Datagram[] = [];
  #events: OutputEvent[] = [];
  #retx: Retransmitter<Pending>;
  #phase: ClientPhase = "registering";
  #exitCode: number | undefined;
  #tok = "";
  #nextId: number;
  #session: string;
  #seq = 0;
  #requests: ServerRequest[] = [];
  #inFlight: InFlightRequest | null = null;
  #peerQueues = new Map<string, PeerSend[]>();
  #peerInFlight = new Map<string, PeerSend>();
  #unreachable = new Set<string>();
  #awaiting = new Map<string, "group" | "private">();
  #deferredNotes: NoteMessage[] = [];
  #typed: string[] = [];
  // Table
  #rows: Row[] = [];
  #index = new Map<string, number>();
  #ver = -1;
  #snapshot: {
    ver: number;
    from: number | undefined;
    parts: (Row[] | undefined)[];
    got: number;
  } | null = null;
  #welcomed = false;
  #tableDue: number | undefined;
  #tableShown = false;
  #pendingTable: Row[] | null = null;
  // Offline list after a reg
  #offNext = 1;
  #offEnd = 0;
  #offItems = new Map<number, OutputEvent | null>();
  #offHeader = false;
  // Inbound
  #seen = new RecentMap<string, true>({ capacity: 100_000 });
  #seenKeys = new RecentMap<string, true>({
    ttl: 3_600_000,
    capacity: 100_000,
  });
  // Notices by what they say: the server sends one again, under a new id,
  // when it was kept for us while we were Offline.
  #seenNotes = new RecentMap<string, true>({
    ttl: 3_600_000,
    capacity: 100_000,
  });
  #reassembler = new Reassembler({ maxBuffered: 1 << 20 });
  #limiter = new RateLimiter({ burst: 500, rate: 2_000 });
  /** Counts of what became of this client's messages. */
  readonly outcomes: Outcomes = { delivered: 0, saved: 0, refused: 0 };
  /** Dropped datagrams by reason. */
  readonly dropped: Record<string, number> = {};

  /** @param options Name, server address and randomness. */
  constructor(options: ClientOptions) {
    this.#name = options.name;
    this.#server = options.server;
    this.#retx = new Retransmitter<Pending>(this.#out);
    const r = options.random(8);
    this.#nextId = ((r[0] << 16) | (r[1] << 8) | r[2]) * 64 + 1;
    this.#session = [...r.subarray(3, 8)].map((b) =>
      b.toString(16).padStart(2, "0")
    ).join("");
  }

  /** Where the client is in its life. */
  get phase(): ClientPhase {
    return this.#phase;
  }

  /** The exit status once the client has decided to exit. */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  /** The table as this client knows it, in registration order. */
  get table(): readonly Row[] {
    return this.#rows;
  }

  /**
   * Whether nothing this client started is still under way: no request, no
   * message awaiting an ACK or a final notice, no offline list half shown.
   */
  get idle(): boolean {
    return this.#inFlight === null && this.#requests.length === 0 &&
      this.#peerInFlight.size === 0 && this.#awaiting.size === 0 &&
      this.#typed.length === 0 && this.#offNext > this.#offEnd &&
      this.#pendingTable === null && this.#ready;
  }

  // Registered and holding the table the server sent after the last welcome.
  // (While a `reg` is under way, what is typed waits for it.)
  get #ready(): boolean {
    if (this.#regPending) return false;
    return this.#phase === "offline" ||
      (this.#phase === "online" && this.#tableShown);
  }

  get #regPending(): boolean {
    return this.#inFlight?.req.kind === "reg" ||
      this.#requests.some((r) => r.kind === "reg");
  }

  /** Registers with the server. */
  start(now: number): void {
    this.#request({ kind: "reg", first: true }, now);
  }

  /** Handles one typed line. */
  command(line: string, now: number): void {
    if (this.#phase === "exited") return;
    const c = parseCommand(line);
    if (c.cmd === "empty") return;
    if (c.cmd === "exit") return this.#exit(EXIT_OK);
    if (c.cmd === "help") {
      for (const h of COMMAND_HELP) this.#emit("status", "help", h);
      return;
    }
    if (c.cmd === "invalid") return this.#emit("error", "usage", c.error);
    if (!this.#ready) {
      // Not registered, or the table has not arrived yet: run it when it has.
      this.#typed.push(line);
      return;
    }
    if (this.#phase === "offline" && c.cmd !== "reg") {
      if (c.cmd === "dereg" && c.name === this.#name) {
        return this.#emit("status", "offline", "[You are Offline. Bye.]");
      }
      if (c.cmd === "dereg") {
        return this.#emit(
          "error",
          "incorrect_username",
          "[Incorrect username.]",
        );
      }
      return this.#emit(
        "error",
        "offline",
        `[You are Offline. Type 'reg ${this.#name}' to come back online.]`,
      );
    }
    switch (c.cmd) {
      case "send":
        return this.#send(c.to, c.text, now);
      case "send_all":
        return this.#sendAll(c.text, now);
      case "dereg":
      case "reg":
        if (c.name !== this.#name) {
          return this.#emit(
            "error",
            "incorrect_username",
            "[Incorrect username.]",
          );
        }
        return this.#request(
          c.cmd === "reg" ? { kind: "reg", first: false } : { kind: "dereg" },
          now,
        );
    }
  }

  /** Handles one received datagram. */
  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    if (this.#phase === "exited") return;
    const fromServer = sameAddress(from, this.#server);
    if (!fromServer && !this.#limiter.allow(addressKey(from), now)) {
      return this.#drop("rate");
    }
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) return this.#drop(decoded.reason);
    const m = decoded.message;
    switch (m.t) {
      case "ack":
        return this.#onAck(m, from, now);
      case "retry":
      case "welcome":
      case "err":
        if (!fromServer) return this.#drop("not_server");
        return this.#onResponse(m, now);
      case "tbl":
      case "note":
      case "ping":
        if (!fromServer) return this.#drop("not_server");
        if (this.#phase === "offline") return this.#drop("offline");
        if (this.#isDuplicate(m.id, from, now)) return;
        if (m.t === "tbl") return this.#onTable(m, now);
        if (m.t === "note") return this.#onNote(m, now);
        return;
      case "msg":
        return this.#onChat(m, from, fromServer, now);
      default:
        return this.#drop("unexpected");
    }
  }

  /** Handles the timer: retransmissions and timeouts. */
  handleTimer(now: number): void {
    if (this.#phase === "exited") return;
    for (const p of this.#retx.poll(now)) {
      if (p.kind === "request") this.#requestTimedOut(p.flight, now);
      else this.#peerTimedOut(p.send, now);
      if (this.#exitCode !== undefined) return;
    }
    if (this.#tableDue !== undefined && now >= this.#tableDue) {
      // Registered, but the table never came: ask for it (and if the server
      // has meanwhile given up on us, the answer makes us register again).
      this.#tableDue = undefined;
      if (this.#phase === "online" && !this.#tableShown && !this.#regPending) {
        this.#request({ kind: "sync" }, now);
        this.#tableDue = now + TABLE_WAIT_MS;
      }
    }
  }

  /** The next time {@linkcode handleTimer} must run, if any. */
  getTimer(): number | undefined {
    if (this.#phase === "exited") return undefined;
    const r = this.#retx.nextTimer();
    const t = this.#tableDue;
    if (r === undefined) return t;
    return t === undefined ? r : Math.min(r, t);
  }

  /** Takes the datagrams to send. */
  datagramsToSend(): Datagram[] {
    return this.#out.splice(0);
  }

  /** Takes the lines to print. */
  events(): OutputEvent[] {
    return this.#events.splice(0);
  }

  // ---- commands ---------------------------------------------------------

  #send(to: string, text: string, now: number): void {
    if (!this.#fits(text)) return this.#tooLong(text);
    if (!isValidName(to)) {
      this.outcomes.refused++;
      return this.#emit("error", "unknown_user", `[Unknown user ${to}.]`, {
        name: to,
      });
    }
    const i = this.#index.get(to);
    const k = this.#key();
    // Not in our table (perhaps it is behind): the server knows, and says so.
    const online = i !== undefined && this.#rows[i][3] === 1 &&
      !this.#unreachable.has(to);
    this.#awaiting.set(k, "private");
    if (!online) {
      this.#sentViaServer(to);
      return this.#save(to, text, k, now);
    }
    const send: PeerSend = { to, text, k, partsLeft: 0, ids: [] };
    const queue = this.#peerQueues.get(to) ?? [];
    queue.push(send);
    this.#peerQueues.set(to, queue);
    this.#pumpPeer(to, now);
  }

  #sendAll(text: string, now: number): void {
    if (!this.#fits(text)) return this.#tooLong(text);
    const k = this.#key();
    this.#awaiting.set(k, "group");
    const parts = splitText(text);
    parts.forEach((part, pi) =>
      this.#request({ kind: "all", k, pi, pn: parts.length, text: part }, now)
    );
  }

  #save(to: string, text: string, k: string, now: number): void {
    const parts = splitText(text);
    parts.forEach((part, pi) =>
      this.#request(
        { kind: "save", to, k, pi, pn: parts.length, text: part },
        now,
      )
    );
  }

  // Within 16 KiB and, once split, within the 64 parts a receiver accepts
  // (control characters such as tabs take 6 bytes each in JSON).
  #fits(text: string): boolean {
    return fitsMessageLimit(text) && splitText(text).length <= MAX_PARTS;
  }

  #tooLong(text: string): void {
    this.outcomes.refused++;
    const bytes = utf8Length(text);
    this.#emit(
      "error",
      "too_long",
      bytes > MAX_MESSAGE_BYTES
        ? `[Message too long: ${bytes} bytes, the limit is ${MAX_MESSAGE_BYTES}. Nothing was sent.]`
        : `[Message too long: it needs ${
          splitText(text).length
        } datagrams, the limit is ${MAX_PARTS}. Nothing was sent.]`,
    );
  }

  #key(): string {
    return `${this.#name}:${this.#session}:${++this.#seq}`;
  }

  // ---- peer to peer -----------------------------------------------------

  // One message at a time per recipient keeps them in order.
  #pumpPeer(to: string, now: number): void {
    if (this.#peerInFlight.has(to)) return;
    const queue = this.#peerQueues.get(to);
    const send = queue?.shift();
    if (send === undefined) return;
    if (queue!.length === 0) this.#peerQueues.delete(to);
    const i = this.#index.get(to);
    if (
      i === undefined || this.#rows[i][3] === 0 || this.#unreachable.has(to)
    ) {
      this.#sentViaServer(to);
      this.#save(to, send.text, send.k, now);
      return this.#pumpPeer(to, now);
    }
    const [, ip, port] = this.#rows[i];
    const addr = { hostname: ip, port };
    this.#peerInFlight.set(to, send);
    const parts = splitText(send.text);
    send.partsLeft = parts.length;
    this.#emit("status", "sent", "[Message sent!]", { to });
    send.ids = parts.map((text, pi) => {
      const id = this.#nextId++;
      const m: Message = {
        t: "msg",
        id,
        from: this.#name,
        g: 0,
        k: send.k,
        pi,
        pn: parts.length,
        text,
      };
      this.#retx.send(id, addr, encodeMessage(m), { kind: "peer", send }, now);
      return id;
    });
  }

  // A peer Online in the table that did not ACK us directly: its messages go
  // through the server (in order), which says whether it was received. It is
  // still a send to an Online user, and is printed as one.
  #sentViaServer(to: string): void {
    const i = this.#index.get(to);
    if (i !== undefined && this.#rows[i][3] === 1) {
      this.#emit("status", "sent", "[Message sent!]", { to });
    }
  }

  #peerTimedOut(send: PeerSend, now: number): void {
    if (this.#peerInFlight.get(send.to) !== send) return;
    for (const id of send.ids) this.#retx.cancel(id);
    this.#peerInFlight.delete(send.to);
    // No ACK in the window: the server tries, or saves it.
    this.#unreachable.add(send.to);
    this.#save(send.to, send.text, send.k, now);
    this.#pumpPeer(send.to, now);
  }

  // ---- requests to the server --------------------------------------------

  #request(req: ServerRequest, now: number): void {
    this.#requests.push(req);
    this.#pumpRequests(now);
  }

  // Requests go one at a time, in order.
  #pumpRequests(now: number): void {
    if (this.#inFlight !== null) return;
    const req = this.#requests.shift();
    if (req === undefined) return;
    const flight: InFlightRequest = { req, id: this.#nextId++, attempt: 0 };
    this.#inFlight = flight;
    this.#transmit(flight, now);
  }

  #transmit(flight: InFlightRequest, now: number): void {
    const { req, id } = flight;
    let m: Message;
    switch (req.kind) {
      case "reg":
        this.#welcomed = false;
        // The snapshot that follows is taken whatever its version.
        if (flight.attempt === 0) this.#resetTable();
        m = { t: "reg", id, name: this.#name };
        if (req.ck !== undefined) m.ck = req.ck;
        if (this.#tok !== "") m.tok = this.#tok;
        break;
      case "dereg":
        m = { t: "dereg", id, name: this.#name, tok: this.#tok };
        break;
      case "sync":
        if (flight.attempt === 0) this.#resetTable();
        m = { t: "sync", id, tok: this.#tok };
        break;
      case "all":
        m = {
          t: "all",
          id,
          tok: this.#tok,
          k: req.k,
          pi: req.pi,
          pn: req.pn,
          text: req.text,
        };
        break;
      case "save":
        m = {
          t: "save",
          id,
          tok: this.#tok,
          to: req.to,
          k: req.k,
          pi: req.pi,
          pn: req.pn,
          text: req.text,
        };
        break;
    }
    this.#retx.send(
      id,
      this.#server,
      encodeMessage(m),
      { kind: "request", flight },
      now,
      {
        deadline: now + ACK_WINDOW_MS,
      },
    );
  }

  #requestTimedOut(flight: InFlightRequest, now: number): void {
    if (this.#inFlight !== flight) return;
    if (flight.attempt >= SERVER_RETRIES) {
      this.#emit("error", "server_not_responding", "[Server not responding.]");
      this.#emit("status", "exiting", "[Exiting...]");
      return this.#exit(EXIT_FAILURE);
    }
    flight.attempt++;
    this.#emit(
      "status",
      "retrying",
      `[Message sent! ${flight.attempt} time(s) retrying...]`,
      {
        attempt: flight.attempt,
      },
    );
    this.#transmit(flight, now);
  }

  #onAck(m: Message & { t: "ack" }, from: Address, now: number): void {
    // A reg is answered by retry, welcome or err, never by an ACK: one (forged)
    // must not end it unanswered, which would leave us registering forever.
    const flight = this.#inFlight;
    if (flight?.id === m.id && flight.req.kind === "reg") {
      return this.#drop("unexpected");
    }
    const acked = this.#retx.ack(m.id, from, now);
    if (acked === undefined) return this.#drop("stray_ack");
    const p = acked.ctx;
    if (p.kind === "peer") {
      const s = p.send;
      if (--s.partsLeft > 0) return;
      this.#peerInFlight.delete(s.to);
      this.#unreachable.delete(s.to);
      this.#finish(s.k, "delivered");
      this.#emit("status", "received", `[Message received by ${s.to}.]`, {
        to: s.to,
      });
      return this.#pumpPeer(s.to, now);
    }
    if (this.#inFlight !== p.flight) return;
    this.#inFlight = null;
    const req = p.flight.req;
    switch (req.kind) {
      case "dereg":
        this.#phase = "offline";
        this.#snapshot = null;
        this.#emit("status", "offline", "[You are Offline. Bye.]");
        break;
      case "all":
        if (req.pi === req.pn - 1) {
          this.#emit(
            "status",
            "group_ack",
            "[Group Message received by Server.]",
          );
          this.outcomes.delivered++;
          this.#releaseNotes(req.k);
        }
        break;
      case "save":
        if (req.pi === req.pn - 1) {
          if (m.r === "saved" && m.at !== undefined) {
            this.#savedNotice(req.k, m.at);
          }
          this.#releaseNotes(req.k);
        }
        break;
      case "reg":
      case "sync":
        break;
    }
    this.#pumpRequests(now);
  }

  #savedNotice(k: string, at: string): void {
    this.#finish(k, "saved");
    this.#emit(
      "notice",
      "saved",
      `[Offline Message sent at ${at} received by the server and saved.]`,
      {
        at,
      },
    );
  }

  #onResponse(
    m: Message & { t: "retry" | "welcome" | "err" },
    now: number,
  ): void {
    const flight = this.#inFlight;
    if (flight === null || flight.id !== m.id) {
      return this.#drop("stray_response");
    }
    const req = flight.req;
    if (m.t === "retry") {
      if (req.kind !== "reg") return this.#drop("unexpected");
      // Prove we receive at this address: resend with the cookie, as a new request.
      this.#retx.cancel(flight.id);
      this.#inFlight = null;
      this.#requests.unshift({ ...req, ck: m.ck });
      return this.#pumpRequests(now);
    }
    if (m.t === "welcome") {
      if (req.kind !== "reg") return this.#drop("unexpected");
      this.#retx.cancel(flight.id);
      this.#inFlight = null;
      this.#tok = m.tok;
      this.#phase = "online";
      this.#unreachable.clear();
      this.#tableShown = false;
      this.#tableDue = now + TABLE_WAIT_MS;
      // A re-login while Online (`off` 0) starts no list: the server goes on
      // delivering the earlier one, which stays open.
      if (m.off > 0) {
        // What is left of an earlier, interrupted list is shown first, in order.
        this.#flushOffline(true);
        this.#offNext = m.o0 ?? 1;
        this.#offEnd = this.#offNext + m.off - 1;
        for (const o of this.#offItems.keys()) {
          if (o < this.#offNext) this.#offItems.delete(o);
        }
        // Items that overtook the welcome are kept: they belong to this list.
        this.#offHeader = false;
      }
      if (req.first) {
        this.#emit("status", "welcome", "[Welcome, You are registered.]", {
          name: this.#name,
        });
      }
      this.#welcomed = true;
      this.#showPendingTable(now);
      // Only now, with the new token, may the next request go.
      return this.#pumpRequests(now);
    }
    // Errors that answer no reg would end it with no welcome and no exit.
    if (
      req.kind === "reg" && (m.code === "unknown_user" || m.code === "too_big")
    ) {
      return this.#drop("unexpected");
    }
    this.#retx.cancel(flight.id);
    this.#inFlight = null;
    this.#onError(m, req, now);
    this.#pumpRequests(now);
  }

  #onError(m: ErrMessage, req: ServerRequest, _now: number): void {
    const name = m.name ?? (req.kind === "save" ? req.to : this.#name);
    const lost = m.code === "offline" || m.code === "not_registered";
    if (lost && (req.kind === "all" || req.kind === "sync")) {
      // The server gave up on us while we were here: rejoin, then retry.
      this.#emit(
        "status",
        "rejoin",
        "[The server marked you Offline; registering again.]",
      );
      this.#requests.unshift({ kind: "reg", first: false }, req);
      return;
    }
    switch (m.code) {
      case "name_in_use":
        this.#emit(
          "error",
          "name_in_use",
          `[Username ${name} is already in use by another session.]`,
          {
            name,
          },
        );
        return this.#exit(EXIT_NAME_IN_USE);
      case "unknown_user":
        this.#refused(req);
        return this.#emit("error", "unknown_user", `[Unknown user ${name}.]`, {
          name,
        });
      case "full":
        this.#refused(req);
        if (req.kind === "reg") {
          this.#emit(
            "error",
            "full",
            "[Server is full: registration refused.]",
          );
          return this.#exit(EXIT_FAILURE);
        }
        return this.#emit(
          "error",
          "full",
          "[Server is full: message not sent.]",
        );
      case "too_big":
        this.#refused(req);
        return this.#emit(
          "error",
          "too_big",
          "[Message refused by the server: too long.]",
        );
      case "offline":
      case "not_registered":
      case "bad_name":
        this.#refused(req);
        if (req.kind === "reg") {
          this.#emit(
            "error",
            m.code,
            `[Registration refused: ${m.code.replace("_", " ")}.]`,
          );
          return this.#exit(EXIT_FAILURE);
        }
        return this.#emit(
          "error",
          m.code,
          "[Not registered with the server: request refused.]",
        );
    }
  }

  #refused(req: ServerRequest): void {
    if (req.kind !== "all" && req.kind !== "save") return;
    this.#finish(req.k, "refused");
    // Drop the message's remaining parts.
    this.#requests = this.#requests.filter((r) => !("k" in r) || r.k !== req.k);
  }

  #finish(k: string, how: keyof Outcomes): void {
    if (!this.#awaiting.has(k)) return;
    this.#awaiting.delete(k);
    this.outcomes[how]++;
  }

  // ---- notices ------------------------------------------------------------

  #onNote(m: NoteMessage, now: number): void {
    const said = `${m.k} ${m.ref} ${m.name}`;
    if (this.#seenNotes.has(said, now)) return this.#drop("duplicate");
    this.#seenNotes.set(said, true, now);
    const inFlight = this.#inFlight?.req;
    const pending =
      (inFlight !== undefined && "k" in inFlight && inFlight.k === m.ref) ||
      this.#requests.some((r) => "k" in r && r.k === m.ref);
    if (pending) {
      this.#deferredNotes.push(m);
      return;
    }
    this.#showNote(m);
  }

  #releaseNotes(k: string): void {
    const ready = this.#deferredNotes.filter((n) => n.ref === k);
    this.#deferredNotes = this.#deferredNotes.filter((n) => n.ref !== k);
    for (const n of ready) this.#showNote(n);
  }

  #showNote(m: NoteMessage): void {
    const at = m.at ?? "";
    switch (m.k) {
      case "noack":
        this.outcomes.saved++;
        this.#emit(
          "notice",
          "no_ack",
          `[No ACK from ${m.name}, message not delivered.]`,
          { name: m.name },
        );
        this.#emit(
          "notice",
          "saved",
          `[Offline Message sent at ${
            clockOf(at)
          } received by the server and saved.]`,
          {
            name: m.name,
            at,
          },
        );
        return;
      case "saved":
        return this.#savedNotice(m.ref, at);
      case "rcv":
        this.#finish(m.ref, "delivered");
        return this.#emit(
          "status",
          "received",
          `[Message received by ${m.name}.]`,
          { to: m.name },
        );
      case "dlv":
        return this.#emit(
          "notice",
          "delivered_offline",
          `[Offline Message sent at ${clockOf(at)} received by ${m.name}]`,
          {
            name: m.name,
            at,
          },
        );
      case "refused":
        this.outcomes.refused++;
        if (this.#awaiting.get(m.ref) === "private") {
          this.#awaiting.delete(m.ref);
        }
        return this.#emit(
          "error",
          "refused",
          `[Message to ${m.name} not saved: the server's storage is full.]`,
          {
            name: m.name,
          },
        );
      case "done":
        this.#awaiting.delete(m.ref);
        return;
    }
  }

  // ---- table ------------------------------------------------------------------

  #onTable(m: TableMessage, now: number): void {
    if (m.ver <= this.#ver) return;
    if (m.from !== undefined && m.from !== this.#ver) {
      // A version was missed: ask for a full snapshot.
      if (
        this.#phase === "online" &&
        !this.#requests.some((r) => r.kind === "sync")
      ) {
        this.#request({ kind: "sync" }, now);
      }
      return;
    }
    // Gather the parts of one snapshot or delta; a newer one replaces an older.
    const n = m.n ?? 1;
    const s = this.#snapshot;
    if (
      s === null || s.ver !== m.ver || s.from !== m.from || s.parts.length !== n
    ) {
      if (s !== null && s.ver > m.ver) return;
      this.#snapshot = {
        ver: m.ver,
        from: m.from,
        parts: new Array(n),
        got: 0,
      };
    }
    const a = this.#snapshot!;
    const i = m.i ?? 0;
    if (a.parts[i] !== undefined) return;
    a.parts[i] = m.rows;
    if (++a.got < n) return;
    this.#snapshot = null;
    const rows = a.parts.flatMap((p) => p!);
    if (a.from === undefined) {
      this.#rows = [];
      this.#index.clear();
    }
    for (const row of rows) this.#upsert(row);
    this.#ver = a.ver;
    this.#tableChanged(a.from === undefined ? this.#rows : rows, now);
  }

  #resetTable(): void {
    this.#ver = -1;
    this.#snapshot = null;
  }

  #upsert(row: Row): void {
    const i = this.#index.get(row[0]);
    if (i === undefined) {
      this.#index.set(row[0], this.#rows.length);
      this.#rows.push(row);
    } else {
      const old = this.#rows[i];
      if (old[1] !== row[1] || old[2] !== row[2] || old[3] !== row[3]) {
        this.#unreachable.delete(row[0]);
      }
      this.#rows[i] = row;
    }
  }

  #tableChanged(changed: Row[], now: number): void {
    const me = this.#index.get(this.#name);
    const regPending = this.#regPending;
    if (
      me !== undefined && this.#rows[me][3] === 0 && this.#phase === "online" &&
      this.#welcomed && !regPending
    ) {
      // The server gave up on us (our ACKs were lost) but we are here: rejoin.
      this.#emit(
        "status",
        "rejoin",
        "[The server marked you Offline; registering again.]",
      );
      this.#request({ kind: "reg", first: false }, now);
    }
    // Peers that went Offline: queued messages go through the server.
    for (const [to, queue] of this.#peerQueues) {
      if (this.#peerInFlight.has(to)) continue;
      if (queue.length > 0) this.#pumpPeer(to, now);
    }
    if (!this.#welcomed) {
      this.#pendingTable = changed;
      return;
    }
    this.#printTable(changed, now);
  }

  #showPendingTable(now: number): void {
    if (this.#ver >= 0 && this.#pendingTable !== null) {
      const changed = this.#pendingTable;
      this.#pendingTable = null;
      this.#printTable(changed, now);
    }
  }

  #printTable(changed: Row[], now: number): void {
    this.#pendingTable = null;
    this.#emit("status", "table_updated", "[Client table updated.]", {
      version: this.#ver,
    });
    const text = this.#rows.length <= TABLE_PRINT_LIMIT
      ? formatTable(this.#rows)
      : summarizeTable(this.#rows, changed);
    this.#emit("table", "table", text, { users: this.#rows.length });
    if (!this.#tableShown) {
      this.#tableShown = true;
      this.#tableDue = undefined;
      this.#flushOffline();
      this.#runTyped(now);
    }
  }

  #runTyped(now: number): void {
    const typed = this.#typed.splice(0);
    for (const line of typed) this.command(line, now);
  }

  // ---- incoming chat ---------------------------------------------------------

  #onChat(
    m: ChatMessage,
    from: Address,
    fromServer: boolean,
    now: number,
  ): void {
    if (this.#phase !== "online") return this.#drop("offline");
    if (!fromServer) {
      // A peer message must come from the address the table gives its sender.
      const i = this.#index.get(m.from);
      const row = i === undefined ? undefined : this.#rows[i];
      if (
        row === undefined || row[1] !== from.hostname || row[2] !== from.port
      ) {
        return this.#drop("impersonation");
      }
      if (m.o !== undefined) return this.#drop("unexpected");
    }
    if (this.#isDuplicate(m.id, from, now)) return;
    if (
      m.o !== undefined && !this.#regPending &&
      (m.o < this.#offNext || m.o > this.#offEnd)
    ) {
      // Outside the list announced, with no reg under way to announce one:
      // stale or forged, it must not take the place of a real entry.
      return this.#drop("unexpected");
    }
    const r = this.#reassembler.add(addressKey(from), m, now);
    if (r.status !== "complete") return;
    const dup = this.#seenKeys.has(m.k, now);
    this.#seenKeys.set(m.k, true, now);
    if (m.o !== undefined) {
      const kind: EventKind = m.from === this.#name ? "own" : "incoming";
      const text = m.g === 1
        ? `Group_Chat:${m.from}: ${clockOf(m.at!)} ${r.text}`
        : `${m.from}: ${clockOf(m.at!)} ${r.text}`;
      const entry: OutputEvent = {
        kind,
        event: "offline_message",
        text,
        data: {
          from: m.from,
          group: m.g === 1,
          at: m.at!,
          message: r.text,
        },
      };
      if (m.o < this.#offNext) {
        // A late copy from an earlier list that is over (we registered again
        // meanwhile): shown now, or never, as it is also in the new list.
        if (!dup) this.#events.push(entry);
        return;
      }
      this.#offItems.set(m.o, dup ? null : entry);
      return this.#flushOffline();
    }
    if (dup) return;
    if (m.g === 1) {
      return this.#emit(
        "incoming",
        "group_message",
        `Group Chat ${m.from}: ${r.text}`,
        {
          from: m.from,
          message: r.text,
        },
      );
    }
    const own = m.from === this.#name;
    this.#events.push({
      kind: own ? "own" : "incoming",
      event: "message",
      text: `${m.from}: ${r.text}`,
      data: { from: m.from, message: r.text },
      bell: !own,
    });
  }

  // Prints the offline list in order as its entries arrive; `all` prints what
  // is buffered of an interrupted list, skipping what never came.
  #flushOffline(all = false): void {
    if (this.#offNext > this.#offEnd || (!this.#tableShown && !all)) return;
    if (
      all &&
      ![...this.#offItems.keys()].some((o) =>
        o >= this.#offNext && o <= this.#offEnd
      )
    ) {
      this.#offNext = this.#offEnd + 1;
      return;
    }
    while (this.#offNext <= this.#offEnd) {
      const e = this.#offItems.get(this.#offNext);
      if (e === undefined && !all) break;
      if (e === undefined) {
        // What never came is skipped in one step: a list may claim 2^53 entries.
        let next = this.#offEnd + 1;
        for (const o of this.#offItems.keys()) {
          if (o > this.#offNext && o < next) next = o;
        }
        this.#offNext = next;
        continue;
      }
      this.#offItems.delete(this.#offNext);
      // The header goes with the first entry shown: a list whose entries were
      // all shown before (live, then saved when our ACK was lost) prints none.
      if (e && !this.#offHeader) {
        this.#offHeader = true;
        this.#emit(
          "status",
          "offline_messages",
          "[You have offline messages:]",
          { count: this.#offEnd - this.#offNext + 1 },
        );
      }
      if (e) this.#events.push(e);
      this.#offNext++;
    }
  }

  // ---- helpers -----------------------------------------------------------------

  // ACKs a reliable datagram; true when it was seen before and must not be acted on.
  #isDuplicate(id: number, from: Address, now: number): boolean {
    this.#out.push({ to: from, bytes: encodeMessage({ t: "ack", id }) });
    const key = `${addressKey(from)}#${id}`;
    if (this.#seen.has(key, now)) {
      this.#drop("duplicate");
      return true;
    }
    this.#seen.set(key, true, now);
    return false;
  }

  #drop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  #exit(code: number): void {
    this.#phase = "exited";
    this.#exitCode = code;
  }

  #emit(
    kind: EventKind,
    event: string,
    text: string,
    data?: OutputEvent["data"],
  ): void {
    this.#events.push(
      data === undefined ? { kind, event, text } : { kind, event, text, data },
    );
  }
}
