/**
 * Requests to the server, one at a time and in order: each is retransmitted
 * inside its 500 ms ACK window and sent again up to 5 times, printing
 * `[Message sent! N time(s) retrying...]`, before the client gives up
 * (the seed's "server is gone" rule, `SEMANTICS.md`). Holds the session
 * token, and handles the answers: `retry` (address validation), `welcome`
 * and `err`.
 *
 * @module
 */
import { addressKey } from "../protocol/address.ts";
import { deregPayload, regPayload } from "../protocol/claim.ts";
import { encodeMessage } from "../protocol/codec.ts";
import { ACK_WINDOW_MS, SERVER_RETRIES } from "../protocol/constants.ts";
import type {
  AckMessage,
  ErrMessage,
  Message,
  RetryMessage,
  TextPart,
  WelcomeMessage,
} from "../protocol/messages.ts";
import type { ClientContext } from "./context.ts";
import type { ClientDropReason } from "./events.ts";
import type { Receipts } from "./receipts.ts";
import { Refusals } from "./refusals.ts";

/**
 * Why a `reg` is sent: the start of the program (the only one that prints
 * the welcome), the `reg` command, a rejoin after the server marked this
 * client Offline, or a restart of the server (issue "Nothing lost when a
 * server dies": a new server instance does not know the session).
 */
export type RegReason = "start" | "command" | "rejoin" | "restarted";

/** A request to the server. */
export type ServerRequest =
  | { kind: "reg"; reason: RegReason; ck?: string; ch?: string }
  | { kind: "dereg" }
  | { kind: "sync" }
  | { kind: "all"; part: TextPart }
  | { kind: "save"; to: string; part: TextPart };

/** A welcome, with the reason its `reg` was sent. */
export interface Welcome {
  /** The server's answer. */
  message: WelcomeMessage;
  /** Why the `reg` went. */
  reason: RegReason;
}

/** What {@linkcode ServerRequests} asks of the rest of the client. */
export interface ServerRequestHooks {
  /**
   * A `reg` or `sync` is about to go; `attempt` 0 is its first transmission,
   * after which the snapshot that follows is taken whatever its version.
   */
  beforeSend(kind: "reg" | "sync", attempt: number): void;
  /** The server welcomed this client (the token is already taken). */
  welcomed(welcome: Welcome, now: number): void;
  /** The server ACKed a `dereg` (the phase is already `offline`). */
  deregistered(): void;
  /** Whether an answer's boot id says the server restarted since the welcome. */
  restarted(boot: string | undefined): boolean;
}

interface InFlight {
  req: ServerRequest;
  id: number;
  attempt: number;
  // The ACK that ended it, for what it says of a `save`.
  ack?: AckMessage;
}

/** The client's requests to the server, one at a time. */
export class ServerRequests {
  #ctx: ClientContext;
  #receipts: Receipts;
  #hooks: ServerRequestHooks;
  #queue: ServerRequest[] = [];
  #inFlight: InFlight | null = null;
  #token = "";
  #refusals: Refusals;

  /**
   * Makes an empty queue, with no session token yet.
   *
   * @param ctx The client's shared state.
   * @param options Where outcomes go, and what it asks of the rest.
   */
  constructor(
    ctx: ClientContext,
    options: { receipts: Receipts; hooks: ServerRequestHooks },
  ) {
    this.#ctx = ctx;
    this.#receipts = options.receipts;
    this.#hooks = options.hooks;
    this.#refusals = new Refusals(ctx, {
      hooks: options.hooks,
      requeue: (reqs) => this.#queue.unshift(...reqs),
      dropMessage: (req) => this.#dropMessage(req),
    });
  }

  /** Whether no request is queued or under way. */
  get idle(): boolean {
    return this.#inFlight === null && this.#queue.length === 0;
  }

  /** Whether a `reg` is queued or under way. */
  get regPending(): boolean {
    return this.#inFlight?.req.kind === "reg" ||
      this.#queue.some((r) => r.kind === "reg");
  }

  /** The session token from the last welcome ("" before the first). */
  get token(): string {
    return this.#token;
  }

  /**
   * Registers again before anything else queued: the server restarted or
   * marked this client Offline. What was waiting goes after, with the new
   * session. A `reg` already pending makes this a no-op.
   *
   * @param reason Why: `rejoin` prints its line now; `restarted` at the welcome.
   * @param now The current time (ms).
   */
  recover(reason: "rejoin" | "restarted", now: number): void {
    if (this.regPending) return;
    if (reason === "rejoin") this.#ctx.emit({ type: "rejoin" });
    this.#queue.unshift({ kind: "reg", reason });
    this.#pump(now);
  }

  /** Whether a `sync` waits in the queue (not yet sent). */
  get syncQueued(): boolean {
    return this.#queue.some((r) => r.kind === "sync");
  }

  /** Whether a part of message `k` is queued or under way. */
  carries(k: string): boolean {
    const req = this.#inFlight?.req;
    return (req !== undefined && partOf(req)?.k === k) ||
      this.#queue.some((r) => partOf(r)?.k === k);
  }

  /** Queues a request; it goes when those before it are done. */
  request(req: ServerRequest, now: number): void {
    this.#queue.push(req);
    this.#pump(now);
  }

  /** Queues every part of a group message. */
  sendGroup(parts: readonly TextPart[], now: number): void {
    for (const part of parts) this.#queue.push({ kind: "all", part });
    this.#pump(now);
  }

  /** Queues every part of a private message for the server to deliver or save. */
  save(message: { to: string; parts: readonly TextPart[] }, now: number): void {
    const { to, parts } = message;
    for (const part of parts) this.#queue.push({ kind: "save", to, part });
    this.#pump(now);
  }

  /**
   * Screens an ACK before the retransmitter matches it: a `reg` is answered
   * by `retry`, `welcome` or `err`, never by an ACK, and a (forged) one must
   * not end it unanswered, which would leave the client registering forever.
   *
   * @returns False when the ACK must be dropped as unexpected.
   */
  screenAck(m: AckMessage): boolean {
    const flight = this.#inFlight;
    if (flight?.id !== m.id) return true;
    if (flight.req.kind === "reg") return false;
    flight.ack = m;
    return true;
  }

  /**
   * Handles the server's answer to the request under way.
   *
   * @returns Why it was dropped, if it was.
   */
  answer(
    m: RetryMessage | WelcomeMessage | ErrMessage,
    now: number,
  ): ClientDropReason | undefined {
    const flight = this.#inFlight;
    if (flight === null || flight.id !== m.id) return "stray_response";
    const req = flight.req;
    if (m.t === "retry" || m.t === "welcome") {
      if (req.kind !== "reg") return "unexpected";
      this.#end(flight);
      if (m.t === "retry") {
        // Prove we receive at this address: resend with the cookie, as a new request.
        // A claimed name signs the challenge, if the server sent one.
        this.#queue.unshift({ ...req, ck: m.ck, ch: m.ch });
      } else {
        this.#token = m.tok;
        this.#ctx.phase = "online";
        this.#hooks.welcomed({ message: m, reason: req.reason }, now);
      }
      // Only now, with the new token, may the next request go.
      this.#pump(now);
      return undefined;
    }
    // Errors that answer no reg would end it with no welcome and no exit.
    if (
      req.kind === "reg" && (m.code === "unknown_user" || m.code === "too_big")
    ) {
      return "unexpected";
    }
    this.#end(flight);
    this.#refusals.handle(m, req);
    this.#pump(now);
    return undefined;
  }

  /**
   * The server no longer knows this client's transit session (it restarted,
   * or the client moved): its plaintext `err` (id 0) cannot name the sealed
   * request it answers, so it answers the request under way, which goes
   * again after a new `reg`; with none under way, the client registers again.
   *
   * @param m The server's `err` (`not_registered`, id 0).
   * @param options Whether its boot id says the server restarted, and the
   * current time (ms).
   */
  sessionLost(
    m: ErrMessage,
    options: { restarted: boolean; now: number },
  ): void {
    const flight = this.#inFlight;
    if (flight !== null && flight.req.kind !== "reg") {
      this.answer({ ...m, id: flight.id }, options.now);
      return;
    }
    this.recover(options.restarted ? "restarted" : "rejoin", options.now);
  }

  #end(flight: InFlight): void {
    this.#ctx.retransmitter.cancel(flight.id);
    this.#inFlight = null;
  }

  // Requests go one at a time, in order.
  #pump(now: number): void {
    if (this.#inFlight !== null) return;
    const req = this.#queue.shift();
    if (req === undefined) return;
    const flight: InFlight = { req, id: this.#ctx.nextId(), attempt: 0 };
    this.#inFlight = flight;
    this.#transmit(flight, now);
  }

  #transmit(flight: InFlight, now: number): void {
    const { req, id } = flight;
    const ctx = this.#ctx, tok = this.#token;
    let m: Message;
    switch (req.kind) {
      case "reg":
        this.#hooks.beforeSend("reg", flight.attempt);
        m = { t: "reg", id, name: ctx.name };
        if (req.ck !== undefined) m.ck = req.ck;
        if (tok !== "") m.tok = tok;
        if (ctx.transient) m.transient = 1;
        if (ctx.claim !== undefined) {
          const pk = ctx.claim.publicKey;
          m.pk = pk;
          if (req.ch !== undefined) {
            m.ch = req.ch;
            m.sig = ctx.claim.sign(
              regPayload({
                name: ctx.name,
                ch: req.ch,
                pk,
                ...(ctx.agreement === undefined
                  ? {}
                  : { xk: ctx.agreement.publicKey }),
              }),
            );
          }
        }
        // The key private messages to this client are sealed to (issue 14).
        if (ctx.agreement !== undefined) m.xk = ctx.agreement.publicKey;
        break;
      case "dereg":
        m = { t: "dereg", id, name: ctx.name, tok };
        if (ctx.claim !== undefined) {
          m.sig = ctx.claim.sign(deregPayload({ name: ctx.name, tok, id }));
        }
        break;
      case "sync":
        this.#hooks.beforeSend("sync", flight.attempt);
        m = { t: "sync", id, tok };
        break;
      case "all":
        m = { t: "all", id, tok, ...req.part };
        break;
      case "save":
        m = { t: "save", id, tok, to: req.to, ...req.part };
        break;
    }
    ctx.retransmitter.send(
      { id, to: ctx.server, bytes: encodeMessage(m) },
      now,
      {
        deadline: now + ACK_WINDOW_MS,
        onAck: (ack) => this.#acked(flight, ack.now),
        onExpire: (at) => this.#expired(flight, at),
      },
    );
  }

  #expired(flight: InFlight, now: number): void {
    if (this.#ctx.exit !== undefined || this.#inFlight !== flight) return;
    if (flight.attempt >= SERVER_RETRIES) {
      const from = this.#ctx.server;
      const next = this.#ctx.switchServer();
      if (next === undefined) {
        this.#ctx.emit({ type: "server_not_responding" });
        this.#ctx.emit({ type: "exiting" });
        return this.#ctx.exitWith("server_not_responding");
      }
      // Another node of the same chat: the same request, the same session.
      this.#ctx.emit({
        type: "server_switched",
        previous: addressKey(from),
        server: addressKey(next),
      });
      flight.attempt = 0;
      return this.#transmit(flight, now);
    }
    flight.attempt++;
    const req = flight.req;
    if (req.kind === "reg" && req.reason !== "command") {
      // The person sent nothing: say what is retried, and where it goes.
      this.#ctx.emit({
        type: "registering",
        server: addressKey(this.#ctx.server),
        attempt: flight.attempt,
        of: SERVER_RETRIES,
      });
    } else {
      this.#ctx.emit({ type: "retrying", attempt: flight.attempt });
    }
    this.#transmit(flight, now);
  }

  #acked(flight: InFlight, now: number): void {
    if (this.#inFlight !== flight) return;
    this.#inFlight = null;
    const req = flight.req;
    switch (req.kind) {
      case "dereg":
        this.#ctx.phase = "offline";
        this.#hooks.deregistered();
        this.#ctx.emit({ type: "offline" });
        break;
      case "all":
        if (req.part.pi === req.part.pn - 1) {
          this.#receipts.groupAcked(req.part.k);
        }
        break;
      case "save": {
        if (req.part.pi !== req.part.pn - 1) break;
        const ack = flight.ack;
        if (ack?.r === "saved" && ack.at !== undefined) {
          this.#receipts.saved(req.part.k, { at: ack.at, to: req.to });
        }
        this.#receipts.release(req.part.k);
        break;
      }
      case "reg":
      case "sync":
        break;
    }
    this.#pump(now);
  }

  // A refused message: counted once, and its remaining parts are not sent.
  #dropMessage(req: ServerRequest): void {
    const part = partOf(req);
    if (part === undefined) return;
    this.#receipts.finish(part.k, "refused");
    this.#queue = this.#queue.filter((r) => partOf(r)?.k !== part.k);
  }
}

function partOf(req: ServerRequest): TextPart | undefined {
  return req.kind === "all" || req.kind === "save" ? req.part : undefined;
}
