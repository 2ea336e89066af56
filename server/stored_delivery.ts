/**
 * Delivery of the offline list: when a user comes Online, the messages saved
 * for it go out numbered by their place in the list (so the client shows
 * them in order), each deleted from the store once every part is ACKed, and
 * its sender told (`dlv`). One that is not ACKed stays saved for the next
 * login.
 *
 * "Received" means shown (protocol/README.md, issue 13): a part the
 * recipient took but did not show is ACKed `held`. A stored message every
 * part of which was ACKed `held` was not shown: it stays saved (for the next
 * login), its sender is not told `dlv`, and the recipient stays Online.
 *
 * @module
 */
import { type Address, sameAddress } from "../protocol/address.ts";
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
  /**
   * Every part of a stored message was ACKed `held` (not shown): it stays
   * saved. For counting (default: nothing).
   */
  held?: (user: User, message: StoredMessage, now: number) => void;
}

/** A stored message on its way: parts not yet ACKed. */
interface Copy {
  left: number;
  /** The parts' datagram ids. */
  ids: number[];
  /** Whether an ACK said the message was shown (an ACK without `held`). */
  shown: boolean;
  /** Parts whose ACK will say `held`, by datagram id. */
  held: Set<number>;
  /** The recipient's address, which `held` ACKs must come from. */
  to: Address;
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
  /** The copy each part id in flight belongs to. */
  #byId = new Map<number, Copy>();

  /** @param options The sender, the store index, notices and the loss hook. */
  constructor(options: StoredDeliveryOptions) {
    this.#options = options;
  }

  /**
   * The messages to deliver at a login: those saved for the user and not
   * already on their way, with the offline-list index of the first.
   */
  pending(user: User): { messages: StoredMessage[]; firstIndex: number } {
    const r = this.#recipients.get(user.name);
    const list = this.#options.offline.list(user.name);
    const messages = r === undefined
      ? list
      : list.filter((s) => !r.delivering.has(s.id));
    return { messages, firstIndex: (r?.listIndex ?? 0) + 1 };
  }

  /** Sends the messages {@linkcode pending} gave, numbered in the offline list. */
  deliver(user: User, messages: readonly StoredMessage[], now: number): void {
    if (messages.length === 0) return;
    const r = this.#recipient(user);
    const first = r.listIndex + 1;
    r.listIndex += messages.length;
    messages.forEach((s, i) => {
      const copy: Copy = {
        left: 0,
        ids: [],
        shown: false,
        held: new Set(),
        to: user.address,
      };
      r.delivering.set(s.id, copy);
      copy.ids = this.#options.sender.sendText(user.address, {
        ...s,
        listIndex: first + i,
      }, {
        now,
        onPartAck: (ack, id) =>
          this.#partAcked(user, { message: s, copy, id }, ack.now),
        onExpire: (at) => this.#expired(user, { message: s, copy }, at),
      });
      copy.left = copy.ids.length;
      for (const id of copy.ids) this.#byId.set(id, copy);
    });
  }

  /**
   * The next ACK of part `id` says `held` (call before the retransmitter
   * matches it): the part arrived, its message was not shown.
   */
  held(id: number, from: Address): void {
    const copy = this.#byId.get(id);
    if (copy !== undefined && sameAddress(copy.to, from)) copy.held.add(id);
  }

  /** The user went Offline: its list is no longer on its way. */
  forget(user: User): void {
    const r = this.#recipients.get(user.name);
    if (r === undefined) return;
    for (const copy of r.delivering.values()) this.#release(copy);
    r.delivering.clear();
  }

  // Forgets the part ids of a copy that is done.
  #release(copy: Copy): void {
    for (const id of copy.ids) {
      if (this.#byId.get(id) === copy) this.#byId.delete(id);
    }
  }

  // A recipient is kept from its first delivered list on (its list index
  // must go on counting); a user never sent its offline list costs nothing.
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
    sent: { message: StoredMessage; copy: Copy; id: number },
    now: number,
  ): void {
    const { message, copy, id } = sent;
    if (this.#byId.get(id) === copy) this.#byId.delete(id);
    // A part ACKed without `held` says: the message was shown.
    if (!copy.held.has(id)) copy.shown = true;
    if (--copy.left > 0) return;
    const r = this.#recipient(user);
    const current = r.delivering.get(message.id);
    // A late copy from an earlier list, the message being in a newer one
    // (the user registered again meanwhile): that one decides.
    if (current !== undefined && current !== copy) return;
    r.delivering.delete(message.id);
    // Not shown: it stays saved for the next login.
    if (!copy.shown) return this.#options.held?.(user, message, now);
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
    this.#release(sent.copy);
    if (r.delivering.get(sent.message.id) !== sent.copy) return;
    r.delivering.delete(sent.message.id);
    if (user.online) this.#options.lost(user, now);
  }
}
