// The server's offline message store, bounded per user and in total.

/** One message saved for an Offline user. */
export interface Stored {
  /** Sender's name. */
  from: string;
  /** 1 for a group message. */
  g: 0 | 1;
  /** The whole text. */
  text: string;
  /** The origin key, for duplicate detection at the recipient. */
  k: string;
  /** Server time stamp when it was saved, `YYYY-MM-DD HH:MM:SS`. */
  at: string;
}

/** Limits of the offline store. */
export interface StoreLimits {
  /** Most messages saved per user. */
  perUser: number;
  /** Most text saved per user, in UTF-16 units. */
  bytesPerUser: number;
  /** Most messages saved in total. */
  total: number;
  /** Most text saved in total, in UTF-16 units. */
  bytesTotal: number;
}

/** Saved messages per recipient, in the order they were saved. */
export class OfflineStore {
  #boxes = new Map<string, Stored[]>();
  #sizes = new Map<string, number>();
  #count = 0;
  #bytes = 0;
  #limits: StoreLimits;

  constructor(limits: StoreLimits) {
    this.#limits = limits;
  }

  /** Messages stored in total. */
  get count(): number {
    return this.#count;
  }

  /** Text stored in total. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Saves a message; false when a limit refuses it. */
  add(to: string, message: Stored): boolean {
    const box = this.#boxes.get(to) ?? [];
    const size = this.#sizes.get(to) ?? 0;
    const n = message.text.length;
    const l = this.#limits;
    if (box.length >= l.perUser || size + n > l.bytesPerUser) return false;
    if (this.#count >= l.total || this.#bytes + n > l.bytesTotal) return false;
    box.push(message);
    this.#boxes.set(to, box);
    this.#sizes.set(to, size + n);
    this.#count++;
    this.#bytes += n;
    return true;
  }

  /** The messages saved for a user, oldest first. */
  list(to: string): readonly Stored[] {
    return this.#boxes.get(to) ?? [];
  }

  /** Deletes one delivered message. */
  remove(to: string, message: Stored): void {
    const box = this.#boxes.get(to);
    if (box === undefined) return;
    const i = box.indexOf(message);
    if (i < 0) return;
    box.splice(i, 1);
    this.#count--;
    this.#bytes -= message.text.length;
    const size = (this.#sizes.get(to) ?? 0) - message.text.length;
    if (box.length === 0) {
      this.#boxes.delete(to);
      this.#sizes.delete(to);
    } else {
      this.#sizes.set(to, size);
    }
  }
}
