/**
 * The relay: group messages fanned out to every other user, private
 * messages the server is asked to deliver or save (`save`), and what becomes
 * of each (saved, delivered, refused), told to its sender.
 *
 * What it accepts it can deliver (issue 13): a message is reassembled per
 * sender, within per-sender and total bounds (one sender's partials never
 * push out another's), and refused `too_big` past the limits clients
 * enforce (16 KiB of UTF-8, 64 parts as the server splits it). Private
 * messages saved for Offline users (`save`) are bounded per sender per hour,
 * so that one sender cannot fill the store for everyone.
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
import type { Notices } from "./notices.ts";
import type { OfflineMessages } from "./offline_messages.ts";
import type { ServerLimits } from "./options.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { ServerDropReason } from "./stats.ts";
import type { StoreRefusal } from "./store.ts";
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
  /** The per-sender save quota (the rest of the limits are not read). */
  limits: Pick<ServerLimits, "savesPerSender" | "savedBytesPerSender">;
  /** Counts what was shed. */
  drop: (reason: ServerDropReason) => void;
}

/** How long a sender's save quota counts saves, in ms (one hour). */
export const SAVE_QUOTA_WINDOW_MS = 3_600_000;

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

// Senders whose quota is remembered before stale entries are trimmed.
const QUOTA_SENDERS_MAX = 10_000;

/** Group fan-out and save-or-forward. */
export class Relay {
  #options: RelayOptions;
  #reassembler = new Reassembler();
  #quota = new Map<string, { start: number; count: number; bytes: number }>();

  /** @param options The parts the relay works with, and its limit. */
  constructor(options: RelayOptions) {
    this.#options = options;
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
    responses.respond(req.from, { t: "ack", id: m.id }, answer);
    this.#options.emit({ type: "group_message", from: user.name, text });
    const fanOut = { left: users.size - 1 };
    if (fanOut.left === 0) this.#done(user.name, m.k, now);
    for (const u of users.all()) {
      if (u === user) continue;
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
      !this.#withinQuota(d.from, text, { offlineCopies: 1, now })
    ) {
      return responses.respond(req.from, {
        t: "err",
        id: m.id,
        code: "full",
        name: m.to,
      }, answer);
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
    if (!d.group) {
      this.#options.notices.tell(d.from, {
        kind: "rcv",
        recipient: user.name,
        messageKey: d.messageKey,
      }, now);
    }
    this.#resolved(d, now);
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

  // Whether `sender` may have `offlineCopies` more copies of `text` saved
  // this hour; if so they are counted. Over it: refused, and counted.
  #withinQuota(
    sender: string,
    text: string,
    copies: { offlineCopies: number; now: number },
  ): boolean {
    const { offlineCopies: n, now } = copies;
    if (n <= 0) return true;
    const l = this.#options.limits;
    let q = this.#quota.get(sender);
    if (q === undefined || now - q.start >= SAVE_QUOTA_WINDOW_MS) {
      if (this.#quota.size >= QUOTA_SENDERS_MAX) this.#trimQuota(now);
      this.#quota.set(sender, q = { start: now, count: 0, bytes: 0 });
    }
    if (
      q.count + n > l.savesPerSender ||
      q.bytes + n * text.length > l.savedBytesPerSender
    ) {
      this.#options.drop("quota");
      return false;
    }
    q.count += n;
    q.bytes += n * text.length;
    return true;
  }

  #trimQuota(now: number): void {
    for (const [name, q] of this.#quota) {
      if (now - q.start >= SAVE_QUOTA_WINDOW_MS) this.#quota.delete(name);
    }
  }

  // Tells a group sender once every recipient has ACKed or had it saved.
  #resolved(d: Delivery, now: number): void {
    if (d.fanOut !== undefined && --d.fanOut.left === 0) {
      this.#done(d.from, d.messageKey, now);
    }
  }

  #done(sender: string, messageKey: string, now: number): void {
    this.#options.notices.tell(sender, {
      kind: "done",
      recipient: sender,
      messageKey,
    }, now);
  }
}
