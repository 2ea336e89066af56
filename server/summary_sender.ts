/**
 * What a client in a big room gets instead of the table (room_summaries.ts;
 * protocol/README.md, "Rooms"): one `sum` datagram per gathered change,
 * with the counts, the first changed rows and the client's changed
 * looked-up rows; quiet (`q: 1`) when only quiet changes came since the
 * client's version (quiet_updates.ts). Table replication (table_replication.ts)
 * decides when; this file makes and sends the datagram.
 *
 * @module
 */
import type { ChangeLog } from "./change_log.ts";
import type { DatagramIds } from "./ids.ts";
import type { QuietUpdates } from "./quiet_updates.ts";
import type { Replica, Transfer } from "./replica.ts";
import {
  type Changes,
  encodeRoomSummary,
  summaryChanges,
  takeChangedRows,
} from "./room_summaries.ts";
import type { TableTransfers } from "./table_transfers.ts";

/** What {@linkcode SummarySender} works with. */
export interface SummarySenderOptions {
  /** The table's versions. */
  log: ChangeLog;
  /** Which updates are quiet. */
  quiet: QuietUpdates;
  /** Where datagram ids come from. */
  ids: DatagramIds;
  /** Sends and tracks each summary until its ACK. */
  transfers: TableTransfers;
  /** Users in the table now. */
  users: () => number;
  /** Users Online now. */
  onlineCount: () => number;
  /**
   * The replicas whose rows changed since a version, in registration
   * order; undefined when only a snapshot says it.
   */
  delta: (version: number) => Replica[] | undefined;
}

/** Makes and sends big rooms' summaries. */
export class SummarySender {
  #options: SummarySenderOptions;

  /** @param options The table's log, ids, transfers and counts. */
  constructor(options: SummarySenderOptions) {
    this.#options = options;
  }

  /**
   * What changed since `version`, as a summary lists it: the same rows a
   * delta would print, or "full table" where a snapshot would be sent.
   */
  changes(version: number): Changes {
    const { log, delta } = this.#options;
    return summaryChanges(
      version >= 0 && version >= log.base ? delta(version) : undefined,
    );
  }

  /**
   * One summary datagram: the counts, the listed rows, then as many of the
   * client's changed looked-up rows as fit (the rest go in the next one).
   *
   * @param c What changed.
   * @param watched The client's changed looked-up rows (its own included).
   * @param options Its datagram id (default: the next), and whether it is
   * quiet.
   * @returns The datagram.
   */
  encode(
    c: Changes,
    watched: Replica[],
    options: { id?: number; quiet?: boolean } = {},
  ): Uint8Array {
    const head = {
      id: options.id ?? this.#options.ids.next(),
      ver: this.#options.log.version,
      u: this.#options.users(),
      on: this.#options.onlineCount(),
    };
    return encodeRoomSummary(
      c,
      watched,
      options.quiet === true ? { ...head, q: 1 } : head,
    );
  }

  /** Sends a client its summary of `c`, tracked until it is ACKed. */
  send(r: Replica, c: Changes, now: number): void {
    const watched = takeChangedRows(r, c);
    const transfer: Transfer = {
      version: this.#options.log.version,
      left: 1,
      from: undefined,
      parts: [],
      next: 1,
      watched,
    };
    const id = this.#options.ids.next();
    // Quiet, as a table would be (a re-login from the same address).
    const quiet = this.#options.quiet.isQuiet(
      r,
      r.ackedVersion >= 0 ? r.ackedVersion : undefined,
    );
    const bytes = this.encode(c, watched, { id, quiet });
    this.#options.transfers.sendSummary(r, { transfer, id, bytes, now });
  }
}
