/**
 * Live delivery of relayed messages: one queue per recipient, one message in
 * flight per recipient (so each arrives whole and in order), and at most
 * {@linkcode DELIVERY_WINDOW} in flight over all recipients. A recipient that
 * does not ACK within the 500 ms window is lost.
 *
 * @module
 */
import { DELIVERY_WINDOW } from "./constants.ts";
import type { ReliableSender } from "./reliable_sender.ts";
import type { User } from "./user.ts";

/** One message on its way to one recipient. */
export interface Delivery {
  /**
   * For a group message: recipients not yet resolved (ACKed or saved),
   * shared by the deliveries of one message.
   */
  fanOut?: { left: number };
  /** The sender's name. */
  from: string;
  /** Whether it is a group message. */
  group: boolean;
  /** The whole text. */
  text: string;
  /** The sender's message key. */
  messageKey: string;
}

/** What the delivery queues tell the rest of the server. */
export interface DeliveriesOptions {
  /** Sends the parts. */
  sender: ReliableSender;
  /** Every part of a delivery was ACKed. */
  delivered: (user: User, delivery: Delivery, now: number) => void;
  /** The recipient did not ACK in time: it goes Offline. */
  lost: (user: User, now: number) => void;
}

interface Queue {
  waiting: Delivery[];
  inFlight: { delivery: Delivery; ids: number[]; partsLeft: number } | null;
}

/** Per-recipient delivery queues under one window. */
export class Deliveries {
  #options: DeliveriesOptions;
  #queues = new Map<string, Queue>();
  #inFlight = 0;
  /** Recipients waiting for room in the window, in turn. */
  #starved = new Set<User>();

  /** @param options The sender and the outcome hooks. */
  constructor(options: DeliveriesOptions) {
    this.#options = options;
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
      }
      this.#inFlight--;
      failed.unshift(q.inFlight.delivery);
      q.inFlight = null;
    }
    return failed;
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
    if (this.#inFlight >= DELIVERY_WINDOW) {
      if (q.waiting.length > 0) this.#starved.add(user);
      return;
    }
    const delivery = q.waiting.shift();
    if (delivery === undefined) return;
    const flight = { delivery, ids: [] as number[], partsLeft: 0 };
    q.inFlight = flight;
    this.#inFlight++;
    flight.ids = this.#options.sender.sendText(user.address, delivery, {
      now,
      onAck: (ack) => this.#partAcked(user, flight, ack.now),
      onExpire: (at) => this.#expired(user, flight, at),
    });
    flight.partsLeft = flight.ids.length;
  }

  #partAcked(
    user: User,
    flight: NonNullable<Queue["inFlight"]>,
    now: number,
  ): void {
    if (--flight.partsLeft > 0) return;
    this.#queue(user).inFlight = null;
    this.#inFlight--;
    this.#options.delivered(user, flight.delivery, now);
    this.serveWaiting(now);
    this.#pump(user, now);
  }

  #expired(
    user: User,
    flight: NonNullable<Queue["inFlight"]>,
    now: number,
  ): void {
    const q = this.#queue(user);
    if (q.inFlight !== flight) return;
    for (const id of flight.ids) this.#options.sender.cancel(id);
    this.#options.lost(user, now);
  }
}
