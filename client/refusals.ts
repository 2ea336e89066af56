/**
 * The client's answer to a refusal: what an `err` from the server means for
 * the request it ended (`SEMANTICS.md`; `protocol/README.md`, "Errors"). A
 * session the server lost (`offline`, `not_registered`) registers again and
 * the request goes after; a name in use, claimed or confusable ends the
 * client; the rest print their line and drop the message they refused (a
 * save over the sender's hourly quota, `quota`, says until when).
 *
 * @module
 */
import type { ErrMessage } from "../protocol/messages.ts";
import type { ClientContext } from "./context.ts";
import type { ServerRequest, ServerRequestHooks } from "./server_requests.ts";

/** What {@linkcode Refusals} needs from the request queue. */
export interface RefusalsOptions {
  /** The hooks of the request queue: `deregistered` and `restarted`. */
  hooks: Pick<ServerRequestHooks, "deregistered" | "restarted">;
  /** Puts requests at the head of the queue, in this order. */
  requeue: (requests: ServerRequest[]) => void;
  /** Drops a refused message: counted once, its other parts not sent. */
  dropMessage: (request: ServerRequest) => void;
}

/** Handles the server's refusals of the client's requests. */
export class Refusals {
  #ctx: ClientContext;
  #hooks: Pick<ServerRequestHooks, "deregistered" | "restarted">;
  #requeue: (requests: ServerRequest[]) => void;
  #dropMessage: (request: ServerRequest) => void;

  /**
   * @param ctx The client's shared state.
   * @param options The queue's hooks and how to change the queue.
   */
  constructor(ctx: ClientContext, options: RefusalsOptions) {
    this.#ctx = ctx;
    this.#hooks = options.hooks;
    this.#requeue = options.requeue;
    this.#dropMessage = options.dropMessage;
  }

  /**
   * Handles an `err` that ended a request: a session the server lost is
   * registered again and the request queued after it; anything else is
   * printed, its message (if it carried one) dropped, and a refused `reg`
   * ends the client.
   *
   * @param m The server's error.
   * @param req The request it answered.
   */
  handle(m: ErrMessage, req: ServerRequest): void {
    const ctx = this.#ctx;
    const name = m.name ?? (req.kind === "save" ? req.to : ctx.name);
    const lost = m.code === "offline" || m.code === "not_registered";
    if (lost && req.kind !== "reg") {
      if (req.kind === "dereg") {
        // The server has us Offline already: what `dereg` asked is so.
        ctx.phase = "offline";
        this.#hooks.deregistered();
        return ctx.emit({ type: "offline" });
      }
      // The server restarted, or gave up on us while we were here: register
      // again, then send this request again with the new session.
      const restarted = m.code === "not_registered" &&
        this.#hooks.restarted(m.boot);
      if (!restarted) ctx.emit({ type: "rejoin" });
      this.#requeue([
        { kind: "reg", reason: restarted ? "restarted" : "rejoin" },
        req,
      ]);
      return;
    }
    switch (m.code) {
      case "name_in_use":
        ctx.emit({ type: "name_in_use", name });
        return ctx.exitWith("name_in_use");
      case "claimed":
        // The name is claimed and this session did not prove it: one line,
        // nothing more (a wrong passphrase and no passphrase look alike).
        this.#dropMessage(req);
        ctx.emit({ type: "name_claimed", name: ctx.name });
        return ctx.exitWith("name_in_use");
      case "confusable":
        // Only a `reg` is refused so; exit as for a name in use.
        ctx.emit({ type: "confusable_name", name: ctx.name, like: name });
        return ctx.exitWith("name_in_use");
      case "unknown_user":
        this.#dropMessage(req);
        return ctx.emit({ type: "unknown_user", name });
      case "full":
        this.#dropMessage(req);
        if (req.kind === "reg") {
          ctx.emit({ type: "server_full", request: "registration" });
          return ctx.exitWith("registration_refused");
        }
        return ctx.emit({ type: "server_full", request: "message" });
      case "quota":
        // This sender's own hourly limit of saved messages, not a full
        // store: said so, with when it starts again.
        this.#dropMessage(req);
        if (req.kind === "reg") {
          ctx.emit({ type: "server_full", request: "registration" });
          return ctx.exitWith("registration_refused");
        }
        return ctx.emit({
          type: "save_quota",
          name,
          ...(m.at !== undefined ? { until: m.at } : {}),
        });
      case "too_big":
        this.#dropMessage(req);
        return ctx.emit({ type: "too_big" });
      case "offline":
      case "not_registered":
      case "bad_name":
        this.#dropMessage(req);
        if (req.kind === "reg") {
          ctx.emit({ type: "registration_refused", code: m.code });
          return ctx.exitWith("registration_refused");
        }
        return ctx.emit({ type: "request_refused", code: m.code });
      case "store_unavailable":
        // The server could not reach its store: not saved, and said so.
        this.#dropMessage(req);
        if (req.kind === "reg") {
          // A first claim is refused until the server can store it.
          ctx.emit({ type: "registration_refused", code: m.code });
          return ctx.exitWith("registration_refused");
        }
        return ctx.emit({
          type: "not_saved",
          name,
          why: "store_unavailable",
        });
    }
  }
}
