/**
 * The group relay: a group message (`all`) fanned out to every other user,
 * queued for the Online ones and saved for the others, and its sender told
 * once every recipient has ACKed it or has a stored copy (`done`).
 *
 * With an external (durable) store it is written ahead (journal.ts): the
 * message is journaled before it is ACKed and fanned out, and the entry
 * deleted once the fan-out is resolved; a server taking the lead after a
 * crash turns the entries left into stored copies, or live deliveries to
 * the recipients whose sessions it kept ({@linkcode GroupRelay.recover}).
 *
 * @module
 */
import type { AllMessage } from "../protocol/messages.ts";
import { formatStamp } from "../protocol/time.ts";
import type { Delivery } from "./deliveries.ts";
import { recoverJournal } from "./journal.ts";
import type { RelayOptions, Requester } from "./relay.ts";
import type { JournalEntry } from "./store.ts";
import type { User } from "./user.ts";

/**
 * What the group relay needs from the rest of the server: the relay's parts
 * (relay.ts), and its own.
 */
export interface GroupRelayOptions extends
  Pick<
    RelayOptions,
    | "responses"
    | "users"
    | "deliveries"
    | "offline"
    | "notices"
    | "emit"
    | "pendingCount"
    | "maxPending"
  > {
  /** Write-ahead (journal.ts), with an external store. Default: off. */
  writeAhead?: boolean;
  /**
   * The whole text once the part `m` completes it; undefined (and the part
   * answered) before, or when it is refused (relay.ts).
   */
  reassemble: (
    req: Requester,
    m: AllMessage,
    now: number,
  ) => string | undefined;
  /** Saves a copy for a recipient that is Offline, and tells its sender. */
  saveUndelivered: (user: User, d: Delivery, now: number) => void;
}

/** Group fan-out, written ahead with a durable store. */
export class GroupRelay {
  #options: GroupRelayOptions;

  /** @param options The parts it works with, and its limit. */
  constructor(options: GroupRelayOptions) {
    this.#options = options;
  }

  /** One part of a group message (`all`) from an authenticated user. */
  onPart(req: Requester, m: AllMessage, now: number): void {
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
    const text = this.#options.reassemble(req, m, now);
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
    const { offline, notices, users, deliveries } = this.#options;
    recoverJournal(entries, {
      offline,
      notices,
      now,
      // A recipient whose session the new leader kept is Online: it gets
      // the message live, as in any fan-out (saved if it does not ACK).
      online: (name) => users.get(name)?.online === true,
      deliverLive: (entry, names, then) => {
        const fanOut = { left: names.length, then };
        for (const name of names) {
          deliveries.enqueue(users.get(name)!, {
            fanOut,
            from: entry.from,
            group: true,
            text: entry.text,
            messageKey: entry.messageKey,
          }, now);
        }
      },
    });
  }

  /**
   * One recipient of a fan-out ACKed its copy or had it saved: once all
   * have, the sender is told (`done`) and the journal entry deleted.
   * Nothing for a private message.
   */
  resolved(d: Delivery, now: number): void {
    if (d.fanOut !== undefined && --d.fanOut.left === 0) {
      this.#finish(d.from, d.messageKey, { fanOut: d.fanOut, now });
    }
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
      else this.#options.saveUndelivered(u, d, now);
    }
  }

  // A fan-out resolved: its journal entry, if any, is no longer needed.
  #finish(
    sender: string,
    messageKey: string,
    resolved: {
      fanOut: { journal?: string; then?: (now: number) => void };
      now: number;
    },
  ): void {
    const { fanOut, now } = resolved;
    if (fanOut.then !== undefined) return fanOut.then(now);
    if (fanOut.journal !== undefined) {
      this.#options.offline.unjournal(fanOut.journal, now);
    }
    this.#options.notices.tell(sender, {
      kind: "done",
      recipient: sender,
      messageKey,
    }, now);
  }
}
