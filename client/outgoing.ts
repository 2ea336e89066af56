/**
 * The messages this client sends (`send`, `send_all`): each is checked and
 * split into parts (`text_parts.ts`), given a key, expected by the receipts
 * and handed to the peers (private) or the server requests (group); its text
 * is kept while its fate is unknown, so that leaving names what was not sent.
 *
 * @module
 */
import { isValidName } from "../protocol/codec.ts";
import { parseCommand } from "./commands.ts";
import type { ClientContext } from "./context.ts";
import type { Peers } from "./peers.ts";
import type { Receipts } from "./receipts.ts";
import type { ServerRequests } from "./server_requests.ts";
import { splitMessage, toParts } from "./text_parts.ts";

/** The parts {@linkcode Outgoing} hands messages to. */
export interface OutgoingOptions {
  /** Where each message's outcome is expected. */
  receipts: Receipts;
  /** Group messages go through the server. */
  requests: ServerRequests;
  /** Private messages go to their recipients. */
  peers: Peers;
}

/** The client's outgoing chat messages, and what `exit` names as not sent. */
export class Outgoing {
  #ctx: ClientContext;
  #receipts: Receipts;
  #requests: ServerRequests;
  #peers: Peers;
  // The messages sent, by key, while their fate may be unknown: what `exit`
  // names as not sent.
  #sent = new Map<string, { to: string | null; message: string }>();

  /**
   * @param ctx The client's shared state.
   * @param options The receipts, the server requests and the peers.
   */
  constructor(ctx: ClientContext, options: OutgoingOptions) {
    this.#ctx = ctx;
    this.#receipts = options.receipts;
    this.#requests = options.requests;
    this.#peers = options.peers;
  }

  /**
   * Sends a private message (`send <name> <text>`): split into parts, each
   * to the recipient's address from the table, or through the server.
   *
   * @param c The recipient's name and the text.
   * @param now The current time (ms).
   */
  send(c: { to: string; text: string }, now: number): void {
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

  /**
   * Sends a group message (`send_all <text>`) through the server.
   *
   * @param text The text.
   * @param now The current time (ms).
   */
  sendAll(text: string, now: number): void {
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

  /**
   * Leaving: names each message whose fate is unknown (Ctrl+C while a
   * request is under way must not drop a `send_all` without a word), then
   * each `send` or `send_all` typed but never run. A group message counts
   * once the server has ACKed it; a private one once its recipient ACKed it
   * or the server saved it.
   *
   * @param typed The lines typed before the client was ready, in order.
   */
  abandon(typed: readonly string[]): void {
    const ctx = this.#ctx;
    for (const [k, sent] of this.#sent) {
      const open = sent.to === null
        ? this.#requests.carries(k)
        : this.#receipts.awaiting(k);
      if (open) ctx.emit({ type: "abandoned", ...sent });
    }
    this.#sent.clear();
    // Lines typed before the client was ready never ran.
    for (const line of typed) {
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
}
