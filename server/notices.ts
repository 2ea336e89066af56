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

/**
 * Notices awaiting an ACK from one sender at once; the rest wait their turn
 * in order (issue 13). A `send_all` with hundreds of Offline recipients
 * makes as many `noack` notices: sent at once, they overflowed the
 * sender's socket buffer (about 256 small datagrams), and the deliveries
 * to it were lost with them until it was marked Offline falsely.
 */
export const NOTICE_WINDOW = 32;

/** What notices need from the rest of the server. */
export interface NoticesOptions {
  /** Sends them. */
  sender: ReliableSender;
  /** Finds the sender to tell. */
  users: UserDirectory;
  /**
   * Whether nothing may be sent to a sender yet: its notices are held as
   * for an Offline one, until {@linkcode Notices.sendHeld} (a restored
   * session not heard from, restored_sessions.ts). Default: never.
   */
  paused?: (user: User) => boolean;
}

/** Notices under way and those held for Offline senders. */
export class Notices {
  #options: NoticesOptions;
  #held = new Map<string, NoteMessage[]>();
  // Notices awaiting an ACK, and those waiting for room, per sender.
  #inFlight = new Map<string, number>();
  #waiting = new Map<string, NoteMessage[]>();

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
    if (!user.online || this.#options.paused?.(user) === true) {
      return this.#hold(user, m);
    }
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

  /** Notices awaiting an ACK or waiting for room, over all senders. */
  get queued(): number {
    let n = 0;
    for (const k of this.#inFlight.values()) n += k;
    for (const l of this.#waiting.values()) n += l.length;
    return n;
  }

  /** Notices held for Offline senders, over all of them. */
  get held(): number {
    let n = 0;
    for (const l of this.#held.values()) n += l.length;
    return n;
  }

  #send(user: User, m: NoteMessage, now: number): void {
    const n = this.#inFlight.get(user.name) ?? 0;
    if (n >= NOTICE_WINDOW) {
      const waiting = this.#waiting.get(user.name) ?? [];
      waiting.push(m);
      this.#waiting.set(user.name, waiting);
      return;
    }
    this.#inFlight.set(user.name, n + 1);
    this.#options.sender.send(user.address, m, {
      now,
      window: "bulk",
      onAck: (ack) => this.#settled(user, ack.now),
      onExpire: (at) => this.#expired(user, m, { tries: 0, now: at }),
    });
  }

  // One of a sender's notices is ACKed or given up: the next waiting one
  // goes out (held instead, if the sender is Offline now).
  #settled(user: User, now: number): void {
    const n = (this.#inFlight.get(user.name) ?? 1) - 1;
    if (n <= 0) this.#inFlight.delete(user.name);
    else this.#inFlight.set(user.name, n);
    const waiting = this.#waiting.get(user.name);
    if (waiting === undefined) return;
    if (!user.online) {
      this.#waiting.delete(user.name);
      for (const m of waiting) this.#hold(user, m);
      return;
    }
    const next = waiting.shift()!;
    if (waiting.length === 0) this.#waiting.delete(user.name);
    this.#send(user, next, now);
  }

  // Kept for a sender who has gone Offline meanwhile, sent again (same id:
  // shown once) to one who is still Online.
  #expired(
    user: User,
    m: NoteMessage,
    attempt: { tries: number; now: number },
  ): void {
    if (!user.online) {
      this.#hold(user, m);
      return this.#settled(user, attempt.now);
    }
    if (attempt.tries >= NOTICE_RETRIES) {
      return this.#settled(user, attempt.now);
    }
    const tries = attempt.tries + 1;
    this.#options.sender.resend(user.address, m, {
      now: attempt.now,
      window: "bulk",
      onAck: (ack) => this.#settled(user, ack.now),
      onExpire: (at) => this.#expired(user, m, { tries, now: at }),
    });
  }
}
