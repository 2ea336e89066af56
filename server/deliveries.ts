/**
 * Live delivery of relayed messages: one queue per recipient, one message in
 * flight per recipient (so each arrives whole and in order), and at most
 * {@linkcode DELIVERY_WINDOW} in flight over all recipients. A recipient that
 * does not ACK within the 500 ms window is lost.
 *
 * "Received" means shown (protocol/README.md): a recipient ACKs a part it
 * took but did not show (its message waits for other parts, or it refused
 * it) with `r: "held"`. A delivery is delivered once every part is ACKed
 * and at least one ACK was not `held` (the part that completed the message,
 * ACKed after it was shown). A delivery whose parts were all ACKed `held`
 * was refused by a live recipient: it is handed to `held` (saved for later),
 * and the recipient is not marked Offline.
 *
 * @module
 */
import { type Address, sameAddress } from "../protocol/address.ts";
import { DELIVERY_WINDOW } from "./constants.ts";
import type { ReliableSender } from "./reliable_sender.ts";
import type { User } from "./user.ts";

/** One message on its way to one recipient. */
export interface Delivery {
  /**
   * For a group message: recipients not yet resolved (ACKed or saved),
   * shared by the deliveries of one message.
   */
  fanOut?: {
    left: number;
    /**
     * The journal entry written for it (server/journal.ts, an external
     * store only): deleted once `left` reaches 0.
     */
    journal?: string;
    /**
     * Runs once `left` reaches 0 (a fan-out recovered from the journal,
     * whose entry waits for its stored copies too: server/journal.ts).
     */
    then?: (now: number) => void;
  };
  /** The sender's name. */
  from: string;
  /** Whether it is a group message. */
  group: boolean;
  /** The whole text. */
  text: string;
  /** The sender's message key. */
  messageKey: string;
  /** A private message sealed to its recipient (sent with `e: 1`). */
  sealed?: boolean;
  /**
   * The copy of a private message saved before it was answered `pending`
   * (an external store only, server/journal.ts): deleted once shown, left
   * saved (and its sender told so) when the delivery fails.
   */
  saved?: { id: string; savedAt: string };
}

/** What the delivery queues tell the rest of the server. */
export interface DeliveriesOptions {
  /** Sends the parts. */
  sender: ReliableSender;
  /** Every part of a delivery was ACKed. */
  delivered: (user: User, delivery: Delivery, now: number) => void;
  /**
   * Every part of a delivery was ACKed, none as shown: the recipient is
   * alive but did not take the message.
   */
  held: (user: User, delivery: Delivery, now: number) => void;
  /** The recipient did not ACK in time: it goes Offline. */
  lost: (user: User, now: number) => void;
  /**
   * Whether nothing may be sent to a recipient yet: its deliveries wait in
   * its queue until {@linkcode Deliveries.resume} (a restored session not
   * heard from, restored_sessions.ts). Default: never.
   */
  paused?: (user: User) => boolean;
}

interface Flight {
  user: User;
  delivery: Delivery;
  ids: number[];
  partsLeft: number;
  /** Whether an ACK said the message was shown (an ACK without `held`). */
  shown: boolean;
  /** ACKs of this flight that said `held`, by part id. */
  held: Set<number>;
}

interface Queue {
  waiting: Delivery[];
  inFlight: Flight | null;
}

/** Per-recipient delivery queues under one window. */
export class Deliveries {
  #options: DeliveriesOptions;
  #queues = new Map<string, Queue>();
  #inFlight = 0;
  /** Recipients waiting for room in the window, in turn. */
  #starved = new Set<User>();
  /** The flight each part id in flight belongs to. */
  #byId = new Map<number, Flight>();

  /** @param options The sender and the outcome hooks. */
  constructor(options: DeliveriesOptions) {
    this.#options = options;
  }

  /**
   * The next ACK of part `id` says `held` (call before the retransmitter
   * matches it): the part arrived, its message was not shown.
   */
  held(id: number, from: Address): void {
    const flight = this.#byId.get(id);
    if (flight !== undefined && sameAddress(flight.user.address, from)) {
      flight.held.add(id);
    }
  }

  /** Messages queued or in flight, over all recipients. */
  get size(): number {
    let n = this.#inFlight;
    for (const q of this.#queues.values()) n += q.waiting.length;
    return n;
  }

  /** Queues a message for an Online recipient. */
  enqueue(user: User, delivery: Delivery, now: number): void {
    this.#queue(user).waiting.push(delivery);
    this.#pump(user, now);
  }

  /**
   * The recipient went Offline: what was queued or in flight for it, the one
   * in flight first. Its sends are cancelled.
   */
  takeFailed(user: User): Delivery[] {
    const q = this.#queue(user);
    const failed = q.waiting;
    q.waiting = [];
    if (q.inFlight !== null) {
      for (const id of q.inFlight.ids) {
        this.#options.sender.cancel(id);
        this.#byId.delete(id);
      }
      this.#inFlight--;
      failed.unshift(q.inFlight.delivery);
      q.inFlight = null;
    }
    this.#starved.delete(user);
    this.#queues.delete(user.name);
    return failed;
  }

  /** Sends what waits for a recipient that was paused. */
  resume(user: User, now: number): void {
    this.#pump(user, now);
  }

  /** Serves recipients waiting for room in the window, in turn. */
  serveWaiting(now: number): void {
    for (const u of this.#starved) {
      if (this.#inFlight >= DELIVERY_WINDOW) return;
      this.#starved.delete(u);
      this.#pump(u, now);
    }
  }

  #queue(user: User): Queue {
    let q = this.#queues.get(user.name);
    if (q === undefined) {
      this.#queues.set(user.name, q = { waiting: [], inFlight: null });
    }
    return q;
  }

  #pump(user: User, now: number): void {
    const q = this.#queue(user);
    if (q.inFlight !== null || !user.online) return;
    if (this.#options.paused?.(user) === true) return;
    if (this.#inFlight >= DELIVERY_WINDOW) {
      if (q.waiting.length > 0) this.#starved.add(user);
      return;
    }
    const delivery = q.waiting.shift();
    if (delivery === undefined) return;
    const flight: Flight = {
      user,
      delivery,
      ids: [],
      partsLeft: 0,
      shown: false,
      held: new Set(),
    };
    q.inFlight = flight;
    this.#inFlight++;
    flight.ids = this.#options.sender.sendText(user.address, delivery, {
      now,
      onPartAck: (ack, id) => this.#partAcked(user, flight, { id, ...ack }),
      onExpire: (at) => this.#expired(user, flight, at),
    });
    for (const id of flight.ids) this.#byId.set(id, flight);
    flight.partsLeft = flight.ids.length;
  }

  #partAcked(
    user: User,
    flight: Flight,
    ack: { id: number; now: number },
  ): void {
    const { id, now } = ack;
    this.#byId.delete(id);
    // A part ACKed without `held` says: the message was shown.
    if (!flight.held.has(id)) flight.shown = true;
    if (--flight.partsLeft > 0) return;
    this.#queue(user).inFlight = null;
    this.#inFlight--;
    if (flight.shown) this.#options.delivered(user, flight.delivery, now);
    else this.#options.held(user, flight.delivery, now);
    this.serveWaiting(now);
    this.#pump(user, now);
  }

  #expired(user: User, flight: Flight, now: number): void {
    const q = this.#queue(user);
    if (q.inFlight !== flight) return;
    for (const id of flight.ids) {
      this.#options.sender.cancel(id);
      this.#byId.delete(id);
    }
    this.#options.lost(user, now);
  }
}
