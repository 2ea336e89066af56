/**
 * The interface every sans-I/O state machine of udpchat implements (the
 * server's and the client's), in the style of aioquic's `QuicConnection`:
 * inputs are datagrams and the current time, outputs are taken by the caller.
 * The UDP driver, the simulation network and the benchmarks drive machines
 * through it alone.
 *
 * @module
 */
import type { Address } from "./address.ts";
import type { Datagram } from "./datagram.ts";

/**
 * A sans-I/O machine: no sockets, timers, clocks or consoles inside.
 *
 * Times are milliseconds on any monotonic clock the caller chooses, the same
 * clock for every call.
 *
 * @typeParam E What the machine reports: its typed events.
 */
export interface Machine<E> {
  /**
   * Handles one received datagram. The bytes may be a view into a reused
   * buffer: the machine copies what it keeps. Never throws: a datagram that
   * fails validation is dropped and counted.
   */
  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void;
  /** Handles the timer: called at or after the deadline {@linkcode getTimer} gave. */
  handleTimer(now: number): void;
  /** The next deadline (ms) at which {@linkcode handleTimer} must run, if any. */
  getTimer(): number | undefined;
  /** Takes the datagrams to send, in order. */
  datagramsToSend(): Datagram[];
  /** Takes the events produced since the last call, in order. */
  events(): E[];
}

/**
 * The queue of datagrams a machine's parts write to and its façade hands out
 * through {@linkcode Machine.datagramsToSend}. One per machine, shared by all
 * its parts, so that datagrams leave in the order they were made.
 *
 * @example Usage
 * ```ts
 * import { Outbox } from "./machine.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const out = new Outbox();
 * out.push({ to: { hostname: "127.0.0.1", port: 5000 }, bytes: new Uint8Array([1]) });
 * assertEquals(out.size, 1);
 * assertEquals(out.take().length, 1);
 * assertEquals(out.size, 0);
 * ```
 */
export class Outbox {
  #queue: Datagram[] = [];

  /** Datagrams waiting to be taken. */
  get size(): number {
    return this.#queue.length;
  }

  /** Queues a datagram to send. */
  push(datagram: Datagram): void {
    this.#queue.push(datagram);
  }

  /** Takes every queued datagram, oldest first, and empties the queue. */
  take(): Datagram[] {
    return this.#queue.splice(0);
  }
}
