/**
 * The relay: group messages fanned out to every other user, private
 * messages the server is asked to deliver or save (`save`), and what becomes
 * of each (saved, delivered, refused), told to its sender.
 *
 * What it accepts it can deliver (issue 13): a message is reassembled per
 * sender, within per-sender and total bounds (one sender's partials never
 * push out another's), and refused `too_big` past the limits clients
 * enforce (16 KiB of UTF-8, 64 parts as the server splits it). Private
 * messages saved for Offline users (`save`) are bounded per sender and per
 * host per hour (`save_quota.ts`), so that neither one sender nor one host
 * with many names can fill the store for everyone.
 *
 * With an external (durable) store, what the server takes is written ahead
 * (journal.ts): a group message is journaled before it is ACKed and fanned
 * out, a private message taken `pending` is saved before it is answered.
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type {
  AllMessage,
  ErrorCode,
  SaveMessage,
} from "../protocol/messages.ts";
import { MAX_MESSAGE_BYTES, MAX_PARTS } from "../protocol/constants.ts";
import { sealedLength } from "../protocol/e2e_crypto.ts";
import { Reassembler } from "../protocol/reassembly.ts";
import { fitsMessageLimit, splitText } from "../protocol/text.ts";
import { formatStamp } from "../protocol/time.ts";
import type { Deliveries, Delivery } from "./deliveries.ts";
import type { ServerEvent } from "./events.ts";
import { recoverJournal } from "./journal.ts";
import type { Notices } from "./notices.ts";
import type { OfflineMessages } from "./offline_messages.ts";
import type { ResponseCache } from "./response_cache.ts";
import { SaveQuota, type SaveQuotaLimits } from "./save_quota.ts";
import type { ServerDropReason } from "./stats.ts";
import type { JournalEntry, StoreRefusal } from "./store.ts";
import type { User, UserDirectory } from "./user.ts";

/**
 * The error code a refused save is answered with: `full` when a limit
 * refuses it, `store_unavailable` when the server cannot reach its store
 * (the client says "[Message to NAME not saved: the server cannot reach its
 * store.]"). Never a false "saved".
 */
export const SAVE_REFUSAL_CODES: Readonly<Record<StoreRefusal, ErrorCode>> = {
  full: "full",
  unavailable: "store_unavailable",
};

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

export { SAVE_QUOTA_WINDOW_MS } from "./save_quota.ts";

/**
 * Whether a whole message is one a client takes: at most 16 KiB of UTF-8
 * (a sealed one: as long as 16 KiB sealed, see protocol/e2e_crypto.ts) and
 * at most 64 parts as the server splits it for delivery.
 */
export function deliverable(
  text: string,
  options: { sealed?: boolean } = {},
): boolean {
  const fits = options.sealed === true
    ? text.length <= sealedLength(MAX_MESSAGE_BYTES)
    : fitsMessageLimit(text);
  return fits && splitText(text).length <= MAX_PARTS;
}

/** Group fan-out and save-or-forward. */
export class Relay {
  #options: RelayOptions;
  #reassembler = new Reassembler();
  #quota: SaveQuota;

  /** @param options The parts the relay works with, and its limit. */
  constructor(options: RelayOptions) {
    this.#options = options;
    this.#quota = new SaveQuota(options.limits);
  }

  /** One part of a group message (`all`) from an authenticated user. */
  onGroupPart(req: Requester, m: AllMessage, now: number): void {
    const { user } = req;
    const { responses, users } = this.#options;
    const answer = { requestSize: req.size, now };
    if (!user.online) {
      return responses.respond(
        req.from,
        { t: "err", id: m.id, code: "offline" },
        answer,
      );
    }
    const text = this.#reassemble(req, m, now);
    if (text === undefined) return;
    let online = 0;
    for (const u of users.all()) if (u.online && u !== user) online++;
    if (
      this.#options.pendingCount() + online * m.pn > this.#options.maxPending
    ) {
      return responses.respond(
        req.from,
        { t: "err", id: m.id, code: "full" },
        answer,
      );
    }
    const recipients: User[] = [];
    for (const u of users.all()) if (u !== user) recipients.push(u);
    if (this.#options.writeAhead !== true || recipients.length === 0) {
      return this.#fanOut(req, m, { text, recipients, now });
    }
    // Written ahead: ACKed and fanned out once the journal has it. The line
    // is printed now, while it is known which node the sender talks to
    // (runtime/cluster_node.ts); the message is fanned out either way.
    this.#options.emit({ type: "group_message", from: user.name, text });
    this.#options.offline.journal({
      from: user.name,
      text,
      messageKey: m.k,
      savedAt: formatStamp(now),
      recipients: recipients.map((u) => u.name),
    }, {
      now,
      then: (_outcome, at, id) => {
        responses.forget(req.from, m.id);
        // Not journaled (the store cannot be reached): fanned out live all
        // the same, as without a durable store; not crash-safe then. The
        // entry is deleted once resolved either way: an unconfirmed write
        // may have been made.
        this.#fanOut(req, m, { text, recipients, now: at, journal: id });
      },
    });
    // Until the store answers, a repeat of the part is not acted on again.
    responses.markBusy(req.from, m.id, now);
  }

  /**
   * Turns journal entries a server that died left into stored copies for
   * the recipients that have none (server/journal.ts).
   *
   * @param entries The entries the store kept, oldest first.
   * @param now The current time (ms).
   */
  recover(entries: readonly JournalEntry[], now: number): void {
    const { offline, notices } = this.#options;
    recoverJournal(entries, { offline, notices, now });
  }

  // ACKs a group message and fans it out to `recipients` (those still
  // registered): queued for the Online ones, saved for the others.
  #fanOut(
    req: Requester,
    m: AllMessage,
    message: {
      text: string;
      recipients: User[];
      now: number;
      journal?: string;
    },
  ): void {
    const { user } = req;
    const { text, now, journal } = message;
    const { responses, users } = this.#options;
    responses.respond(req.from, { t: "ack", id: m.id }, {
      requestSize: req.size,
      now,
    });
    // Written ahead: its line was printed when it was taken.
    if (journal === undefined) {
      this.#options.emit({ type: "group_message", from: user.name, text });
    }
    const recipients = message.recipients.filter((u) =>
      users.get(u.name) === u
    );
    const fanOut: { left: number; journal?: string } = {
      left: recipients.length,
    };
    if (journal !== undefined) fanOut.journal = journal;
    if (fanOut.left === 0) this.#finish(user.name, m.k, { fanOut, now });
    for (const u of recipients) {
      const d: Delivery = {
        fanOut,
        from: user.name,
        group: true,
        text,
        messageKey: m.k,
      };
      if (u.online) this.#options.deliveries.enqueue(u, d, now);
      else this.saveUndelivered(u, d, now);
    }
  }

  /**
   * One part of a private message (`save`) the sender could not deliver: the
   * server tries once more if the recipient is Online, else saves it.
   */
  onSavePart(req: Requester, m: SaveMessage, now: number): void {
    const { responses, users } = this.#options;
    const answer = { requestSize: req.size, now };
    const target = users.get(m.to);
    if (target === undefined) {
      return responses.respond(
        req.from,
        { t: "err", id: m.id, code: "unknown_user", name: m.to },
        answer,
      );
    }
    const text = this.#reassemble(req, m, now);
    if (text === undefined) return;
    const d: Delivery = {
      from: req.user.name,
      group: false,
      text,
      messageKey: m.k,
    };
    // Sealed to the recipient: stored and delivered as it came, unread.
    if (m.e === 1) d.sealed = true;
    if (
      !target.online &&
      !this.#withinQuota(req, text, { offlineCopies: 1, now })
    ) {
      return responses.respond(req.from, {
        t: "err",
        id: m.id,
        code: "full",
        name: m.to,
      }, answer);
    }
    if (target.online && this.#options.writeAhead === true) {
      return this.#saveThenTry(req, m, { target, d, now });
    }
    if (target.online) {
      // The sender could not reach it: try once more from here before saving.
      responses.respond(
        req.from,
        { t: "ack", id: m.id, r: "pending" },
        answer,
      );
      return this.#options.deliveries.enqueue(target, d, now);
    }
    const savedAt = formatStamp(now);
    const pending = this.#options.offline.save({
      to: target.name,
      from: d.from,
      group: false,
      text,
      messageKey: m.k,
      savedAt,
      ...(m.e === 1 ? { sealed: true } : {}),
    }, {
      now,
      then: (outcome, at) => {
        const later = { requestSize: req.size, now: at };
        responses.forget(req.from, m.id);
        if (outcome === "saved") {
          return responses.respond(
            req.from,
            { t: "ack", id: m.id, r: "saved", at: savedAt },
            later,
          );
        }
        responses.respond(req.from, {
          t: "err",
          id: m.id,
          code: SAVE_REFUSAL_CODES[outcome],
          name: m.to,
        }, later);
      },
    });
    // Until the store answers, a repeat of the request is not acted on again.
    if (pending) responses.markBusy(req.from, m.id, now);
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
      return this.#resolved(d, now);
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
        this.#resolved(d, at);
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
    this.#resolved(d, now);
  }

  // A private message to an Online recipient the sender could not reach,
  // with an external store: a copy is saved first; then it is answered
  // `pending` and tried once more (the copy deleted once shown), or, the
  // recipient gone meanwhile, answered `saved`. A copy the store refuses:
  // tried live all the same, as without a durable store.
  #saveThenTry(
    req: Requester,
    m: SaveMessage,
    message: { target: User; d: Delivery; now: number },
  ): void {
    const { target, d, now } = message;
    const { responses, deliveries } = this.#options;
    const savedAt = formatStamp(now);
    const pending = this.#options.offline.save({
      to: target.name,
      from: d.from,
      group: false,
      text: d.text,
      messageKey: d.messageKey,
      savedAt,
      ...(d.sealed === true ? { sealed: true } : {}),
    }, {
      now,
      then: (outcome, at, id) => {
        const later = { requestSize: req.size, now: at };
        responses.forget(req.from, m.id);
        if (outcome === "saved" && !target.online) {
          return responses.respond(
            req.from,
            { t: "ack", id: m.id, r: "saved", at: savedAt },
            later,
          );
        }
        responses.respond(
          req.from,
          { t: "ack", id: m.id, r: "pending" },
          later,
        );
        const saved = outcome === "saved" ? { saved: { id, savedAt } } : {};
        deliveries.enqueue(target, { ...d, ...saved }, at);
      },
    });
    if (pending) responses.markBusy(req.from, m.id, now);
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

  // Whether the sender, and its host, may have `offlineCopies` more copies
  // of `text` saved this hour; if so they are counted. Over either quota:
  // refused, and counted as `quota`.
  #withinQuota(
    req: Requester,
    text: string,
    copies: { offlineCopies: number; now: number },
  ): boolean {
    const refused = this.#quota.charge(
      { name: req.user.name, from: req.from },
      { copies: copies.offlineCopies, length: text.length, now: copies.now },
    );
    if (refused !== undefined) this.#options.drop("quota");
    return refused === undefined;
  }

  // Tells a group sender once every recipient has ACKed or had it saved.
  #resolved(d: Delivery, now: number): void {
    if (d.fanOut !== undefined && --d.fanOut.left === 0) {
      this.#finish(d.from, d.messageKey, { fanOut: d.fanOut, now });
    }
  }

  // A fan-out resolved: its journal entry, if any, is no longer needed.
  #finish(
    sender: string,
    messageKey: string,
    resolved: { fanOut: { journal?: string }; now: number },
  ): void {
    const { fanOut, now } = resolved;
    if (fanOut.journal !== undefined) {
      this.#options.offline.unjournal(fanOut.journal, now);
    }
    this.#done(sender, messageKey, now);
  }

  #done(sender: string, messageKey: string, now: number): void {
    this.#options.notices.tell(sender, {
      kind: "done",
      recipient: sender,
      messageKey,
    }, now);
  }
}
