/**
 * The relay: group messages fanned out to every other user
 * (`group_relay.ts`), private messages the server is asked to deliver or
 * save (`save`; `private_relay.ts`), and what becomes of each (saved,
 * delivered, refused), told to its sender.
 *
 * What it accepts it can deliver (issue 13): a message is reassembled per
 * sender, within per-sender and total bounds (one sender's partials never
 * push out another's), and refused `too_big` past the limits clients
 * enforce (`message_limits.ts`: 16 KiB of UTF-8, 64 parts as the server
 * splits it).
 *
 * With an external (durable) store, what the server takes is written ahead
 * (journal.ts): a group message is journaled before it is ACKed and fanned
 * out, a private message taken `pending` is saved before it is answered.
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type { AllMessage, SaveMessage } from "../protocol/messages.ts";
import { Reassembler } from "../protocol/reassembly.ts";
import { formatStamp } from "../protocol/time.ts";
import type { Deliveries, Delivery } from "./deliveries.ts";
import type { ServerEvent } from "./events.ts";
import { GroupRelay } from "./group_relay.ts";
import { deliverable } from "./message_limits.ts";
import type { Notices } from "./notices.ts";
import type { OfflineMessages } from "./offline_messages.ts";
import { PrivateRelay } from "./private_relay.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { SaveQuotaLimits } from "./save_quota.ts";
import type { ServerDropReason } from "./stats.ts";
import type { JournalEntry } from "./store.ts";
import type { User, UserDirectory } from "./user.ts";

export { SAVE_REFUSAL_CODES } from "./private_relay.ts";
export { SAVE_QUOTA_WINDOW_MS } from "./save_quota.ts";
export { deliverable } from "./message_limits.ts";

/** An authenticated request: who sent it, from where, and its size. */
export interface Requester {
  /** The user whose token it carried. */
  user: User;
  /** The address it came from. */
  from: Address;
  /** Its size in bytes (for the amplification guard). */
  size: number;
}

/** What the relay needs from the rest of the server. */
export interface RelayOptions {
  /** Answers requests. */
  responses: ResponseCache;
  /** The registered users. */
  users: UserDirectory;
  /** Live delivery queues. */
  deliveries: Deliveries;
  /** The offline store, through its requests. */
  offline: OfflineMessages;
  /** Notices to senders. */
  notices: Notices;
  /** Reports a group message. */
  emit: (event: ServerEvent) => void;
  /** Datagrams awaiting an ACK now. */
  pendingCount: () => number;
  /** Most datagrams awaiting an ACK at once. */
  maxPending: number;
  /** The save quotas per sender and per host (the rest are not read). */
  limits: SaveQuotaLimits;
  /** Counts what was shed. */
  drop: (reason: ServerDropReason) => void;
  /**
   * Write-ahead (server/journal.ts), with an external store: a group message
   * is journaled before it is ACKed and fanned out, a private message taken
   * `pending` is saved before it is answered. Default: off (in-memory store).
   */
  writeAhead?: boolean;
}

/** Group fan-out and save-or-forward, and what became of each message. */
export class Relay {
  #options: RelayOptions;
  #reassembler = new Reassembler();
  #group: GroupRelay;
  #private: PrivateRelay;

  /** @param options The parts the relay works with, and its limit. */
  constructor(options: RelayOptions) {
    this.#options = options;
    const reassemble = (
      req: Requester,
      m: AllMessage | SaveMessage,
      now: number,
    ) => this.#reassemble(req, m, now);
    this.#group = new GroupRelay({
      ...options,
      reassemble,
      saveUndelivered: (user, d, now) => this.saveUndelivered(user, d, now),
    });
    this.#private = new PrivateRelay({ ...options, reassemble });
  }

  /**
   * The incomplete messages of `all` and `save` requests, per sender (swept
   * and gauged by `held_state.ts`).
   */
  get reassembler(): Reassembler {
    return this.#reassembler;
  }

  /** One part of a group message (`all`) from an authenticated user. */
  onGroupPart(req: Requester, m: AllMessage, now: number): void {
    this.#group.onPart(req, m, now);
  }

  /**
   * Turns journal entries a server that died left into stored copies for
   * the recipients that have none (server/journal.ts).
   *
   * @param entries The entries the store kept, oldest first.
   * @param now The current time (ms).
   */
  recover(entries: readonly JournalEntry[], now: number): void {
    this.#group.recover(entries, now);
  }

  /**
   * One part of a private message (`save`) the sender could not deliver: the
   * server tries once more if the recipient is Online, else saves it.
   */
  onSavePart(req: Requester, m: SaveMessage, now: number): void {
    this.#private.onPart(req, m, now);
  }

  /**
   * A message that could not be delivered is saved, and its sender told
   * (`saved` or, for a group message, `noack`; `refused` if the store
   * refused it).
   */
  saveUndelivered(user: User, d: Delivery, now: number): void {
    if (d.saved !== undefined) {
      // Saved before it was answered `pending`: the copy stays for `reg`.
      this.#options.notices.tell(d.from, {
        kind: "saved",
        recipient: user.name,
        messageKey: d.messageKey,
        savedAt: d.saved.savedAt,
      }, now);
      return this.#group.resolved(d, now);
    }
    const savedAt = formatStamp(now);
    this.#options.offline.save({
      to: user.name,
      from: d.from,
      group: d.group,
      text: d.text,
      messageKey: d.messageKey,
      savedAt,
      ...(d.sealed === true ? { sealed: true } : {}),
    }, {
      now,
      then: (outcome, at) => {
        this.#options.notices.tell(d.from, {
          kind: outcome !== "saved" ? "refused" : d.group ? "noack" : "saved",
          ...(outcome === "unavailable"
            ? { why: "store_unavailable" as const }
            : {}),
          recipient: user.name,
          messageKey: d.messageKey,
          savedAt,
        }, at);
        this.#group.resolved(d, at);
      },
    });
  }

  /** Every part of a live delivery was ACKed. */
  delivered(user: User, d: Delivery, now: number): void {
    // Shown: the copy saved ahead is no longer needed.
    if (d.saved !== undefined) {
      this.#options.offline.delete(user.name, d.saved.id, now);
    }
    if (!d.group) {
      this.#options.notices.tell(d.from, {
        kind: "rcv",
        recipient: user.name,
        messageKey: d.messageKey,
      }, now);
    }
    this.#group.resolved(d, now);
  }

  // The whole text once its last part is in; undefined (and the part
  // answered) before, or when it is refused.
  #reassemble(
    req: Requester,
    m: AllMessage | SaveMessage,
    now: number,
  ): string | undefined {
    const shed = { ...this.#reassembler.shed };
    const r = this.#reassembler.add(req.user.name, m, now);
    const evicted = this.#reassembler.shed.evicted - shed.evicted;
    for (let i = 0; i < evicted; i++) this.#options.drop("partial_evicted");
    const sealed = m.e === 1;
    if (r.status === "complete" && deliverable(r.text, { sealed })) {
      return r.text;
    }
    const refusal = r.status === "complete"
      ? "too_big"
      : r.status === "refused"
      ? r.reason === "full" ? "full" : "too_big"
      : undefined;
    if (refusal !== undefined) {
      this.#options.drop(refusal === "full" ? "partials_full" : "too_big");
    }
    this.#options.responses.respond(
      req.from,
      refusal !== undefined
        ? { t: "err", id: m.id, code: refusal }
        : { t: "ack", id: m.id },
      { requestSize: req.size, now },
    );
    return undefined;
  }
}
