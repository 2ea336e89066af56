/**
 * Notices to a sender about what became of its message (saved, delivered,
 * received, no ACK, refused, done). A notice is never dropped in silence: one
 * for an Offline sender is held (a bounded few) until it is back; one that
 * is not ACKed is sent again, with the same id so it is shown once.
 *
 * @module
 */
import type { NoteKind, NoteMessage } from "../protocol/messages.ts";
import { MAX_HELD_NOTICES, NOTICE_RETRIES } from "./constants.ts";
import type { ReliableSender } from "./reliable_sender.ts";
import type { User, UserDirectory } from "./user.ts";

/** What a notice says. */
export interface Notice {
  /** What became of the message. */
  kind: NoteKind;
  /** The recipient the notice is about (the sender itself for `done`). */
  recipient: string;
  /** The sender's key of the message. */
  messageKey: string;
  /** Server time stamp, `YYYY-MM-DD HH:MM:SS`, when there is one. */
  savedAt?: string;
  /** For `refused`: why the store refused it. */
  why?: "full" | "store_unavailable";
}

/** What notices need from the rest of the server. */
export interface NoticesOptions {
  /** Sends them. */
  sender: ReliableSender;
  /** Finds the sender to tell. */
  users: UserDirectory;
}

/** Notices under way and those held for Offline senders. */
export class Notices {
  #options: NoticesOptions;
  #held = new Map<string, NoteMessage[]>();

  /** @param options The sender and the user directory. */
  constructor(options: NoticesOptions) {
    this.#options = options;
  }

  /**
   * Tells a sender what became of its message: at once if it is Online,
   * else once it is back.
   *
   * @param to The sender's name (unknown names are ignored).
   * @param notice What to tell.
   * @param now The current time (ms).
   */
  tell(to: string, notice: Notice, now: number): void {
    const user = this.#options.users.get(to);
    if (user === undefined) return;
    const m: NoteMessage = {
      t: "note",
      id: 0,
      k: notice.kind,
      name: notice.recipient,
      ref: notice.messageKey,
    };
    if (notice.savedAt !== undefined) m.at = notice.savedAt;
    if (notice.why !== undefined) m.why = notice.why;
    if (!user.online) return this.#hold(user, m);
    this.#send(user, m, now);
  }

  /** Sends a user who is back the notices held for it. */
  sendHeld(user: User, now: number): void {
    const held = this.#held.get(user.name);
    if (held === undefined) return;
    this.#held.delete(user.name);
    for (const m of held) this.#send(user, m, now);
  }

  #hold(user: User, m: NoteMessage): void {
    const held = this.#held.get(user.name) ?? [];
    if (held.length >= MAX_HELD_NOTICES) return;
    held.push(m);
    this.#held.set(user.name, held);
  }

  #send(user: User, m: NoteMessage, now: number): void {
    this.#options.sender.send(user.address, m, {
      now,
      window: "bulk",
      onExpire: (at) => this.#expired(user, m, { tries: 0, now: at }),
    });
  }

  // Kept for a sender who has gone Offline meanwhile, sent again (same id:
  // shown once) to one who is still Online.
  #expired(
    user: User,
    m: NoteMessage,
    attempt: { tries: number; now: number },
  ): void {
    if (!user.online) return this.#hold(user, m);
    if (attempt.tries >= NOTICE_RETRIES) return;
    const tries = attempt.tries + 1;
    this.#options.sender.resend(user.address, m, {
      now: attempt.now,
      window: "bulk",
      onExpire: (at) => this.#expired(user, m, { tries, now: at }),
    });
  }
}
