/**
 * Table transfers: the table datagrams in flight to each client, tracked
 * until ACKed or given up, within a window per client
 * (`CLIENT_TABLE_WINDOW`) and in total (`TABLE_WINDOW`), so that a storm of
 * registrations never buries the server's answers. A transfer ACKed whole
 * moves its client's replica to its version; one lost leaves the client due
 * a snapshot again, a few times (`TABLE_SNAPSHOT_RETRIES`). What to send and
 * when is `table_replication.ts`'s job.
 *
 * @module
 */
import type { Retransmitter } from "../protocol/reliable.ts";
import { encodeTablePart } from "../protocol/table.ts";
import {
  BULK_MAX_BACKOFF_MS,
  BULK_WINDOW_MS,
  CLIENT_TABLE_WINDOW,
  TABLE_MIN_TIMEOUT_MS,
  TABLE_SNAPSHOT_RETRIES,
  TABLE_WINDOW,
} from "./constants.ts";
import type { DatagramIds } from "./ids.ts";
import type { Replica, Transfer } from "./replica.ts";
import { hasDirty, requeueLost } from "./room_summaries.ts";

/** What table transfers need from table replication. */
export interface TableTransfersOptions {
  /** Tracks the table parts awaiting an ACK. */
  retransmitter: Retransmitter;
  /** Where datagram ids come from. */
  ids: DatagramIds;
  /** The table's current version. */
  version: () => number;
  /** Asks for a flush soon (a client is due more). */
  scheduleFlush: (now: number) => void;
  /** Flushes now: clients waited for room in the window. */
  flush: (now: number) => void;
}

/** The table datagrams in flight, over all clients. */
export class TableTransfers {
  #options: TableTransfersOptions;
  /** Table datagrams awaiting an ACK, over all clients. */
  #inFlight = 0;
  /** Whether clients wait for room in the window. */
  #starved = false;

  /** @param options The retransmitter, the ids and the replication's hooks. */
  constructor(options: TableTransfersOptions) {
    this.#options = options;
  }

  /**
   * Whether the window is full: then clients wait, and are served at once
   * when half of it is free again.
   */
  waitForRoom(): boolean {
    if (this.#inFlight < TABLE_WINDOW) return false;
    this.#starved = true;
    return true;
  }

  /**
   * Starts a client's transfer of table parts: as many as its window
   * allows now, the rest as parts are ACKed.
   */
  start(r: Replica, transfer: Transfer, now: number): void {
    r.transfer = transfer;
    const { parts } = transfer;
    while (transfer.next < Math.min(parts.length, CLIENT_TABLE_WINDOW)) {
      this.#sendPart(r, transfer, now);
    }
  }

  /**
   * Sends a client one summary datagram (a big room), as a transfer of one
   * part.
   *
   * @param r The client's replica.
   * @param sent The summary's transfer, datagram id and bytes, and the time.
   */
  sendSummary(
    r: Replica,
    sent: { transfer: Transfer; id: number; bytes: Uint8Array; now: number },
  ): void {
    const { transfer, id, bytes, now } = sent;
    r.transfer = transfer;
    this.#sendTracked(r, { id, bytes, version: transfer.version, now });
  }

  // Sends the next part of a client's transfer.
  #sendPart(r: Replica, transfer: Transfer, now: number): void {
    const { version, from, parts } = transfer;
    const i = transfer.next++;
    const n = parts.length;
    const id = this.#options.ids.next();
    const whole = from !== undefined && n === 1;
    const head = whole
      ? { id, ver: version, from }
      : { id, ver: version, from, i, n };
    const bytes = encodeTablePart(
      transfer.quiet === true ? { ...head, q: 1 } : head,
      parts[i],
    );
    this.#sendTracked(r, { id, bytes, version, now });
  }

  // Sends one table datagram, tracked until it is ACKed or given up.
  #sendTracked(
    r: Replica,
    sent: { id: number; bytes: Uint8Array; version: number; now: number },
  ): void {
    const { id, bytes, version, now } = sent;
    this.#inFlight++;
    this.#options.retransmitter.send({ id, to: r.user.address, bytes }, now, {
      deadline: now + BULK_WINDOW_MS,
      maxBackoff: BULK_MAX_BACKOFF_MS,
      minTimeout: TABLE_MIN_TIMEOUT_MS,
      onAck: (ack) => this.#acked(r, version, ack.now),
      onExpire: (at) => this.#expired(r, version, at),
    });
  }

  #acked(r: Replica, version: number, now: number): void {
    this.#partDone(now);
    const transfer = r.transfer;
    if (transfer === null || transfer.version !== version) return;
    if (transfer.next < transfer.parts.length) this.#sendPart(r, transfer, now);
    if (--transfer.left > 0) return;
    r.transfer = null;
    r.ackedVersion = version;
    r.failures = 0;
    if (version < this.#options.version() || hasDirty(r)) {
      this.#options.scheduleFlush(now);
    }
  }

  #expired(r: Replica, version: number, now: number): void {
    this.#partDone(now);
    if (r.transfer?.version !== version) return;
    const watched = r.transfer.watched;
    r.transfer = null;
    if (watched !== undefined) {
      // A summary lost: its looked-up rows go in the next one.
      requeueLost(r, watched);
      if (++r.failures <= TABLE_SNAPSHOT_RETRIES) {
        this.#options.scheduleFlush(now);
      }
      return;
    }
    // Lost: send a full snapshot again soon, a few times, so a client never
    // stays on a stale table just because nothing else changed.
    r.ackedVersion = -1;
    if (++r.failures <= TABLE_SNAPSHOT_RETRIES) {
      this.#options.scheduleFlush(now);
    }
  }

  // A table datagram was ACKed or given up: if clients wait for room in the
  // window, serve them once half of it is free: at once, not after the
  // gathering delay (up to 500 ms in big rooms), which left the window idle.
  #partDone(now: number): void {
    this.#inFlight--;
    if (this.#starved && this.#inFlight < TABLE_WINDOW / 2) {
      this.#starved = false;
      this.#options.flush(now);
    }
  }
}
