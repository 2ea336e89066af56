/**
 * Delivery of the offline list: when a user comes Online, the messages saved
 * for it go out numbered by their place in the list (so the client shows
 * them in order), each deleted from the store once every part is ACKed, and
 * its sender told (`dlv`). One that is not ACKed stays saved for the next
 * login.
 *
 * @module
 */
import type { Notices } from "./notices.ts";
import type { OfflineMessages } from "./offline_messages.ts";
import type { ReliableSender } from "./reliable_sender.ts";
import type { StoredMessage } from "./store.ts";
import type { User } from "./user.ts";

/** What stored delivery needs from the rest of the server. */
export interface StoredDeliveryOptions {
  /** Sends the parts. */
  sender: ReliableSender;
  /** What is saved for whom. */
  offline: OfflineMessages;
  /** Tells senders their message was delivered. */
  notices: Notices;
  /** The recipient did not ACK in time: it goes Offline. */
  lost: (user: User, now: number) => void;
}

/** A stored message on its way: parts not yet ACKed. */
interface Copy {
  left: number;
}

interface Recipient {
  /** The last offline-list index given out, so lists of two logins never mix. */
  listIndex: number;
  /** Stored messages being delivered, by id, each with its copy in the current list. */
  delivering: Map<string, Copy>;
}

/** The offline lists being delivered. */
export class StoredDelivery {
  #options: StoredDeliveryOptions;
  #recipients = new Map<string, Recipient>();

  /** @param options The sender, the store index, notices and the loss hook. */
  constructor(options: StoredDeliveryOptions) {
    this.#options = options;
  }

  /**
   * The messages to deliver at a login: those saved for the user and not
   * already on their way, with the offline-list index of the first.
   */
  pending(user: User): { messages: StoredMessage[]; firstIndex: number } {
    const r = this.#recipient(user);
    const messages = this.#options.offline.list(user.name).filter((s) =>
      !r.delivering.has(s.id)
    );
    return { messages, firstIndex: r.listIndex + 1 };
  }

  /** Sends the messages {@linkcode pending} gave, numbered in the offline list. */
  deliver(user: User, messages: readonly StoredMessage[], now: number): void {
    const r = this.#recipient(user);
    const first = r.listIndex + 1;
    r.listIndex += messages.length;
    messages.forEach((s, i) => {
      const copy: Copy = { left: 0 };
      r.delivering.set(s.id, copy);
      copy.left = this.#options.sender.sendText(user.address, {
        ...s,
        listIndex: first + i,
      }, {
        now,
        onAck: (ack) => this.#partAcked(user, { message: s, copy }, ack.now),
        onExpire: (at) => this.#expired(user, { message: s, copy }, at),
      }).length;
    });
  }

  /** The user went Offline: its list is no longer on its way. */
  forget(user: User): void {
    this.#recipient(user).delivering.clear();
  }

  #recipient(user: User): Recipient {
    let r = this.#recipients.get(user.name);
    if (r === undefined) {
      this.#recipients.set(
        user.name,
        r = { listIndex: 0, delivering: new Map() },
      );
    }
    return r;
  }

  #partAcked(
    user: User,
    sent: { message: StoredMessage; copy: Copy },
    now: number,
  ): void {
    const { message, copy } = sent;
    if (--copy.left > 0) return;
    const r = this.#recipient(user);
    const current = r.delivering.get(message.id);
    // A late copy from an earlier list, the message being in a newer one
    // (the user registered again meanwhile): that one decides.
    if (current !== undefined && current !== copy) return;
    r.delivering.delete(message.id);
    // Deleted already (delivered by another copy): its sender was told.
    if (!this.#options.offline.has(user.name, message.id)) return;
    this.#options.offline.delete(user.name, message.id, now);
    this.#options.notices.tell(message.from, {
      kind: "dlv",
      recipient: user.name,
      messageKey: message.messageKey,
      savedAt: message.savedAt,
    }, now);
  }

  #expired(
    user: User,
    sent: { message: StoredMessage; copy: Copy },
    now: number,
  ): void {
    const r = this.#recipient(user);
    if (r.delivering.get(sent.message.id) !== sent.copy) return;
    r.delivering.delete(sent.message.id);
    if (user.online) this.#options.lost(user, now);
  }
}
