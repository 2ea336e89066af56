/**
 * The table asked for (protocol/README.md, "Rooms"): `sync`, a client's
 * request for a full snapshot (a summary in a big room), and `who`, a
 * client in a big room looking a user up. Each is answered through the
 * response cache; the table goes out through `table_replication.ts`.
 *
 * @module
 */
import type { WhoMessage } from "../protocol/messages.ts";
import type { Requester } from "./relay.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { TableReplication } from "./table_replication.ts";

/** What answering table requests needs. */
export interface TableRequestsOptions {
  /** Answers requests. */
  responses: ResponseCache;
  /** The table replicas. */
  table: TableReplication;
}

/** Answers `sync` and `who`. */
export class TableRequests {
  #options: TableRequestsOptions;

  /** @param options The response cache and the table replicas. */
  constructor(options: TableRequestsOptions) {
    this.#options = options;
  }

  /**
   * A client asks for a full table snapshot (`sync`): ACKed, and a snapshot
   * goes out soon; `offline` if the server gave up on it (it will register
   * again).
   */
  sync(req: Requester, id: number, now: number): void {
    const { responses, table } = this.#options;
    const answer = { requestSize: req.size, now };
    if (!req.user.online) {
      // We gave up on it; it is here after all and will register again.
      return responses.respond(
        req.from,
        { t: "err", id, code: "offline" },
        answer,
      );
    }
    responses.respond(req.from, { t: "ack", id }, answer);
    table.requestSnapshot(req.user, now);
  }

  /**
   * A client in a big room looks a user up (`who`): the row, kept fresh in
   * its summaries from now on, or `unknown_user`.
   */
  who(req: Requester, m: WhoMessage, now: number): void {
    const row = this.#options.table.lookup(req.user, m.name);
    this.#options.responses.respond(
      req.from,
      row === undefined
        ? { t: "err", id: m.id, code: "unknown_user", name: m.name }
        : { t: "ack", id: m.id, rows: [row] },
      { requestSize: req.size, now },
    );
  }
}
