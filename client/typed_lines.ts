/**
 * Typed lines (`SEMANTICS.md`, the commands): each is parsed
 * (`commands.ts`) and run, or held until the client is ready (registered
 * and holding the table the server sent after the last welcome), then run
 * in the order typed. `help`, `exit` and mistakes are answered at once; an
 * Offline client takes only `reg`. `exit` names what was never sent.
 *
 * @module
 */
import { COMMAND_NAMES, parseCommand } from "./commands.ts";
import type { ClientContext } from "./context.ts";
import type { Outgoing } from "./outgoing.ts";
import type { ServerRequests } from "./server_requests.ts";

/** The parts a {@linkcode TypedLines} works with. */
export interface TypedLinesOptions {
  /** `send` and `send_all`. */
  outgoing: Outgoing;
  /** `reg` and `dereg`. */
  requests: ServerRequests;
  /** Whether the client is ready to run a command now. */
  ready: () => boolean;
}

/** Runs typed lines, holding them until the client is ready. */
export class TypedLines {
  #ctx: ClientContext;
  #options: TypedLinesOptions;
  // Lines typed before the client was ready, run when it is.
  #typed: string[] = [];

  /**
   * @param ctx The client's shared state.
   * @param options The parts commands drive, and the readiness test.
   */
  constructor(ctx: ClientContext, options: TypedLinesOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  /** Whether no typed line waits for the client to be ready. */
  get settled(): boolean {
    return this.#typed.length === 0;
  }

  /** The client is ready: the lines held run now, in the order typed. */
  runHeld(now: number): void {
    for (const line of this.#typed.splice(0)) this.command(line, now);
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
        // Lines typed before the client was ready never ran.
        this.#options.outgoing.abandon(this.#typed.splice(0));
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
    if (!this.#options.ready()) {
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
        return this.#options.outgoing.send(c, now);
      case "send_all":
        return this.#options.outgoing.sendAll(c.text, now);
      case "dereg":
      case "reg":
        if (c.name !== ctx.name) {
          return ctx.emit({ type: "incorrect_username" });
        }
        return this.#options.requests.request(
          c.cmd === "reg"
            ? { kind: "reg", reason: "command" }
            : { kind: "dereg" },
          now,
        );
    }
  }
}
