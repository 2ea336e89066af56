/**
 * The private relay: a private message (`save`) its sender could not
 * deliver, tried once more from the server if the recipient is Online,
 * else saved for it, within the save quotas per sender and per host per
 * hour (`save_quota.ts`), so that neither one sender nor one host with many
 * names can fill the store for everyone. A sealed message is stored and
 * delivered as it came, unread.
 *
 * With an external (durable) store a message taken `pending` is saved
 * before it is answered (journal.ts), its copy deleted once it is shown.
 *
 * @module
 */
import type { ErrorCode, SaveMessage } from "../protocol/messages.ts";
import { formatStamp } from "../protocol/time.ts";
import type { Deliveries, Delivery } from "./deliveries.ts";
import type { OfflineMessages } from "./offline_messages.ts";
import type { Requester } from "./relay.ts";
import type { ResponseCache } from "./response_cache.ts";
import { SaveQuota, type SaveQuotaLimits } from "./save_quota.ts";
import type { ServerDropReason } from "./stats.ts";
import type { StoreRefusal } from "./store.ts";
import type { User, UserDirectory } from "./user.ts";

/**
 * The error code a save the store refused is answered with: `full` when the
 * store's limits refuse it, `store_unavailable` when the server cannot reach its store
 * (the client says "[Message to NAME not saved: the server cannot reach its
 * store.]"). Never a false "saved". A save over its sender's (or host's)
 * hourly quota is answered `quota` instead, before the store is asked.
 */
export const SAVE_REFUSAL_CODES: Readonly<Record<StoreRefusal, ErrorCode>> = {
  full: "full",
  unavailable: "store_unavailable",
};

/** What the private relay needs from the rest of the server. */
export interface PrivateRelayOptions {
  /** Answers requests. */
  responses: ResponseCache;
  /** The registered users. */
  users: UserDirectory;
  /** Live delivery queues. */
  deliveries: Deliveries;
  /** The offline store, through its requests. */
  offline: OfflineMessages;
  /** The save quotas per sender and per host (the rest are not read). */
  limits: SaveQuotaLimits;
  /** Counts what was shed. */
  drop: (reason: ServerDropReason) => void;
  /** Saves before answering `pending` (journal.ts). Default: off. */
  writeAhead?: boolean;
  /**
   * The whole text once the part `m` completes it; undefined (and the part
   * answered) before, or when it is refused (relay.ts).
   */
  reassemble: (
    req: Requester,
    m: SaveMessage,
    now: number,
  ) => string | undefined;
}

/** Save-or-forward of private messages. */
export class PrivateRelay {
  #options: PrivateRelayOptions;
  #quota: SaveQuota;

  /** @param options The parts it works with, and the save quotas. */
  constructor(options: PrivateRelayOptions) {
    this.#options = options;
    this.#quota = new SaveQuota(options.limits);
  }

  /**
   * One part of a private message (`save`) the sender could not deliver: the
   * server tries once more if the recipient is Online, else saves it.
   */
  onPart(req: Requester, m: SaveMessage, now: number): void {
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
    const text = this.#options.reassemble(req, m, now);
    if (text === undefined) return;
    const d: Delivery = {
      from: req.user.name,
      group: false,
      text,
      messageKey: m.k,
    };
    // Sealed to the recipient: stored and delivered as it came, unread.
    if (m.e === 1) d.sealed = true;
    const resetsAt = target.online
      ? undefined
      : this.#overQuota(req, text, { offlineCopies: 1, now });
    if (resetsAt !== undefined) {
      // The sender's own limit, not a full store: say so, and until when.
      return responses.respond(req.from, {
        t: "err",
        id: m.id,
        code: "quota",
        name: m.to,
        at: formatStamp(resetsAt),
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

  // Undefined if the sender, and its host, may have `offlineCopies` more
  // copies of `text` saved this hour (they are counted then). Over either
  // quota: refused, counted as `quota`, and the time (ms) that quota starts
  // again is returned.
  #overQuota(
    req: Requester,
    text: string,
    copies: { offlineCopies: number; now: number },
  ): number | undefined {
    const source = { name: req.user.name, from: req.from };
    const refused = this.#quota.charge(
      source,
      { copies: copies.offlineCopies, length: text.length, now: copies.now },
    );
    if (refused === undefined) return undefined;
    this.#options.drop("quota");
    return this.#quota.resetsAt(source, refused) ?? copies.now;
  }
}
