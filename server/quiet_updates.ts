/**
 * Quiet table updates (`tbl`/`sum` with `q: 1`): what a client applies
 * without printing because no printed field changed. A delta is quiet when
 * every change it brings is (change_log.ts, `quietSince`). A snapshot is
 * quiet when its client holds that table already: after a re-login from the
 * same address (seed test case 6: only the key changed), or for a session a
 * new leader kept (leader_restore.ts); and when only quiet changes came
 * since. This file keeps, per replica, the version from which its snapshot
 * may be quiet.
 *
 * @module
 */
import type { ChangeLog } from "./change_log.ts";
import type { Replica } from "./replica.ts";

/** The versions from which replicas' snapshots may be quiet. */
export class QuietUpdates {
  #log: ChangeLog;
  #from = new Map<Replica, number>();

  /** @param log The table's change log. */
  constructor(log: ChangeLog) {
    this.#log = log;
  }

  /**
   * The replica's client holds the table as of `version`: its next
   * snapshot is quiet if nothing printed changed since.
   */
  holds(replica: Replica, version: number): void {
    this.#from.set(replica, version);
  }

  /** The replica's client holds no table we know of (or it left). */
  forget(replica: Replica): void {
    this.#from.delete(replica);
  }

  /**
   * Whether what goes to a replica now, a delta from `from` or a snapshot
   * (`from` undefined), says only quiet changes.
   */
  isQuiet(replica: Replica, from: number | undefined): boolean {
    if (from !== undefined) return this.#log.quietSince(from);
    const held = this.#from.get(replica);
    if (held === undefined) return false;
    // Kept while it holds, so that a snapshot sent again (lost, `sync`) is
    // quiet too; gone once anything printed changed.
    const quiet = held === this.#log.version || this.#log.quietSince(held);
    if (!quiet) this.#from.delete(replica);
    return quiet;
  }
}
