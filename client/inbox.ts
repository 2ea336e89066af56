/**
 * Messages to this user: datagrams seen before are recognised (and only
 * ACKed again), parts are reassembled, a message is shown once whatever
 * path it came by, and the offline list after a `reg` is printed in the
 * order the server saved it, under its header (`SEMANTICS.md`, "dereg NAME /
 * reg NAME").
 *
 * Issue 13: a message is known by its authenticated origin and its key
 * (`from` as the server authenticated it, or as the table gives the peer's
 * address), never by a key anyone could copy; parts are reassembled per
 * sender within per-sender and total bounds; and a part is ACKed as `held`
 * unless its whole message has been shown ("received" means shown).
 *
 * @module
 */
import { type Address, addressKey } from "../protocol/address.ts";
import { RecentMap } from "../protocol/dedup.ts";
import { sealedLength } from "../protocol/e2e_crypto.ts";
import type { ChatMessage, WelcomeMessage } from "../protocol/messages.ts";
import { Reassembler } from "../protocol/reassembly.ts";
import { fitsMessageLimit } from "../protocol/text.ts";
import {
  REASSEMBLY_MAX_BUFFERED,
  SEEN_IDS_CAPACITY,
  SEEN_KEYS_CAPACITY,
  SEEN_KEYS_TTL_MS,
} from "./constants.ts";
import type { ClientContext } from "./context.ts";
import type { ClientEvent } from "./events.ts";
import type { TableReplica } from "./table_replica.ts";

/** Where and when a datagram arrived. */
export interface Arrival {
  /** The sender's address. */
  from: Address;
  /** The time it arrived (ms). */
  now: number;
}

/** The parts an {@linkcode Inbox} works with. */
export interface InboxOptions {
  /** Whether the first table after the welcome was shown. */
  table: TableReplica;
  /** Whether a `reg` is queued or under way (and may announce a list). */
  regPending: () => boolean;
}

/**
 * How a chat part is ACKed: `shown` (a plain ACK: its whole message was
 * shown, now or before) or `held` (it waits for other parts, or was
 * refused).
 */
export type PartAck = "shown" | "held";

/** What is printed instead of an offline-list entry shown before. */
const SHOWN_BEFORE = null;

/** Incoming messages and the offline list. */
export class Inbox {
  #ctx: ClientContext;
  #options: InboxOptions;
  #seenIds = new RecentMap<string, true>({ capacity: SEEN_IDS_CAPACITY });
  #seenKeys = new RecentMap<string, true>({
    ttl: SEEN_KEYS_TTL_MS,
    capacity: SEEN_KEYS_CAPACITY,
  });
  // Live messages: per sender, two partials and 32 Ki at most each.
  #reassembler = new Reassembler({ maxBuffered: REASSEMBLY_MAX_BUFFERED });
  // The offline list: the server sends it all at once; bounded in total.
  #listReassembler = new Reassembler({
    maxBuffered: REASSEMBLY_MAX_BUFFERED,
    maxPerSource: Infinity,
    maxBufferedPerSource: REASSEMBLY_MAX_BUFFERED,
  });
  // The offline list: entries `#next` to `#end` are still to be shown.
  #next = 1;
  #end = 0;
  #entries = new Map<number, ClientEvent | typeof SHOWN_BEFORE>();
  #headerShown = false;
  // Messages being reassembled one part of which said `e: 1`: the whole
  // message is sealed, whatever its other parts say.
  #sealedPartials = new RecentMap<string, true>({
    ttl: SEEN_KEYS_TTL_MS,
    capacity: SEEN_KEYS_CAPACITY,
  });
  // Sealed messages that did not open, by origin: ACKed `held`, never shown.
  #unopened = new RecentMap<string, true>({
    ttl: SEEN_KEYS_TTL_MS,
    capacity: SEEN_KEYS_CAPACITY,
  });

  /**
   * Makes an empty inbox.
   *
   * @param ctx The client's shared state.
   * @param options The table and whether a `reg` is under way.
   */
  constructor(ctx: ClientContext, options: InboxOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  /** Whether no offline list is half shown. */
  get settled(): boolean {
    return this.#next > this.#end;
  }

  /**
   * Records a reliable datagram's id from its sender.
   *
   * @returns Whether it was seen before (a retransmission to ACK, not act on).
   */
  seenBefore(id: number, arrival: Arrival): boolean {
    const key = `${addressKey(arrival.from)}#${id}`;
    if (this.#seenIds.has(key, arrival.now)) return true;
    this.#seenIds.set(key, true, arrival.now);
    return false;
  }

  /**
   * How to ACK a part seen before (a retransmission): as shown once its
   * message was shown.
   */
  ackFor(m: ChatMessage, arrival: Arrival): PartAck {
    const origin = originKey(m);
    if (this.#seenKeys.has(origin, arrival.now)) return "shown";
    if (this.#unopened.has(origin, arrival.now)) return "held";
    return m.pn === 1 ? "shown" : "held";
  }

  /**
   * Handles one chat message part (authenticated and new).
   *
   * @returns How to ACK it.
   */
  receive(m: ChatMessage, arrival: Arrival): PartAck {
    this.#receive(m, arrival);
    return this.ackFor(m, arrival);
  }

  #receive(m: ChatMessage, arrival: Arrival): void {
    const ctx = this.#ctx;
    if (
      m.o !== undefined && !this.#options.regPending() &&
      (m.o < this.#next || m.o > this.#end)
    ) {
      // Outside the list announced, with no reg under way to announce one:
      // stale or forged, it must not take the place of a real entry.
      return ctx.drop("unexpected");
    }
    const { from, now } = arrival;
    // Per sender (the server relays for many); the offline list apart.
    const source = `${addressKey(from)}\u0000${m.from}`;
    const r = m.o !== undefined
      ? this.#listReassembler.add(source, m, now)
      : this.#reassembler.add(source, m, now);
    // A message is sealed when any of its parts says so: the part that
    // completes it does not decide alone (its flag may have been lost).
    const partial = `${
      m.o !== undefined ? "o" : "l"
    }\u0000${source}\u0000${m.k}`;
    let sealed = m.e === 1 || this.#sealedPartials.has(partial, now);
    if (r.status !== "complete") {
      if (m.e === 1 && r.status === "partial") {
        this.#sealedPartials.set(partial, true, now);
      }
      return;
    }
    this.#sealedPartials.delete(partial);
    // Private text that looks sealed but is not flagged (a relay that lost
    // the flag): opened like a flagged one, never shown as it came.
    if (!sealed && m.g !== 1 && looksSealed(r.text)) sealed = true;
    const origin = originKey(m);
    const text = sealed ? this.#open(m, r.text) : r.text;
    if (text === undefined) {
      // Not shown, not taken for seen (a genuine copy may follow by another
      // path), ACKed `held`; an offline-list entry is skipped.
      ctx.drop("decrypt_failed");
      this.#unopened.set(origin, true, now);
      if (m.o !== undefined && m.o >= this.#next) {
        this.#entries.set(m.o, SHOWN_BEFORE);
        this.flush();
      }
      return;
    }
    const dup = this.#seenKeys.has(origin, now);
    this.#seenKeys.set(origin, true, now);
    const own = m.from === ctx.name;
    if (m.o !== undefined) {
      const entry: ClientEvent = {
        type: "offline_message",
        from: m.from,
        group: m.g === 1,
        at: m.at!,
        message: text,
        own,
      };
      if (m.o < this.#next) {
        // A late copy from an earlier list that is over (we registered again
        // meanwhile): shown now, or never, as it is also in the new list.
        if (!dup) ctx.emit(entry);
        return;
      }
      this.#entries.set(m.o, dup ? SHOWN_BEFORE : entry);
      return this.flush();
    }
    if (dup) return;
    if (m.g === 1) {
      return ctx.emit({ type: "group_message", from: m.from, message: text });
    }
    ctx.emit({ type: "message", from: m.from, message: text, own });
  }

  // Opens a sealed private message (protocol/e2e_crypto.ts): bound to its
  // sender, this client and its key. A live one must come from the key the
  // sender's row gives, when the table has one; an offline-list entry may be
  // from an earlier session of the sender (the server vouches for `from`).
  // The plaintext is validated as any text is.
  #open(m: ChatMessage, sealed: string): string | undefined {
    const ctx = this.#ctx;
    if (m.g === 1 || ctx.agreement === undefined) return undefined;
    const opened = ctx.agreement.open(sealed, {
      from: m.from,
      to: ctx.name,
      k: m.k,
    });
    if (opened === undefined || !fitsMessageLimit(opened.text)) {
      return undefined;
    }
    const rowKey = this.#options.table.row(m.from)?.[4];
    if (
      m.o === undefined && rowKey !== undefined && rowKey !== opened.senderKey
    ) {
      return undefined;
    }
    return opened.text;
  }

  /**
   * A welcome announced an offline list (`off` > 0). What is left of an
   * earlier, interrupted list is shown first, in order; entries that
   * overtook the welcome are kept, as they belong to the new list.
   */
  startList(welcome: WelcomeMessage): void {
    this.#flush("interrupted");
    this.#next = welcome.o0 ?? 1;
    this.#end = this.#next + welcome.off - 1;
    for (const o of this.#entries.keys()) {
      if (o < this.#next) this.#entries.delete(o);
    }
    this.#headerShown = false;
  }

  /** Prints the offline list in order as far as its entries have arrived. */
  flush(): void {
    this.#flush("arrived");
  }

  // "arrived": in order, up to the first missing entry, once the table is
  // shown. "interrupted": what is buffered, skipping what never came.
  #flush(mode: "arrived" | "interrupted"): void {
    const all = mode === "interrupted";
    if (this.#next > this.#end || (!this.#options.table.shown && !all)) return;
    if (
      all &&
      ![...this.#entries.keys()].some((o) => o >= this.#next && o <= this.#end)
    ) {
      this.#next = this.#end + 1;
      return;
    }
    while (this.#next <= this.#end) {
      const e = this.#entries.get(this.#next);
      if (e === undefined && !all) break;
      if (e === undefined) {
        // What never came is skipped in one step: a list may claim 2^53 entries.
        let next = this.#end + 1;
        for (const o of this.#entries.keys()) {
          if (o > this.#next && o < next) next = o;
        }
        this.#next = next;
        continue;
      }
      this.#entries.delete(this.#next);
      // The header goes with the first entry shown: a list whose entries were
      // all shown before (live, then saved when our ACK was lost) prints none.
      if (e !== SHOWN_BEFORE && !this.#headerShown) {
        this.#headerShown = true;
        this.#ctx.emit({
          type: "offline_messages",
          count: this.#end - this.#next + 1,
        });
      }
      if (e !== SHOWN_BEFORE) this.#ctx.emit(e);
      this.#next++;
    }
  }
}

// Whether a text looks like a sealed message (protocol/e2e_crypto.ts): only
// base64url characters, at least as long as one byte sealed, and as varied as
// random bytes are (a long run of one letter is not taken for one).
function looksSealed(text: string): boolean {
  if (text.length < sealedLength(1) || text.length % 4 === 1) return false;
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return false;
  if (!/[A-Z]/.test(text) || !/[a-z]/.test(text) || !/[0-9]/.test(text)) {
    return false;
  }
  return new Set(text).size >= 24;
}

// A message's identity: its authenticated origin (the sender's name, as the
// server authenticated it or as the table gives the peer's address) and its
// key. Another user copying the key makes another identity.
function originKey(m: ChatMessage): string {
  return `${m.from}\u0000${m.k}`;
}
