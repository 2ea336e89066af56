/**
 * Reassembly of messages split into parts, with bounded memory per source
 * and in total. A source's partial messages are counted against its own
 * bounds only: when it starts more than it may hold, its own oldest partial
 * is given up, never another source's; when the total is full, new parts
 * are refused (`full`) and nothing held is evicted. A message whose text
 * would pass {@linkcode MAX_MESSAGE_BYTES} is refused (`too_big`), as the
 * client refuses it before sending.
 *
 * Incomplete messages expire `ttl` after their first part; `sweep` gives
 * them up on the owner's timer, and the maps are rebuilt once they hold
 * under a quarter of their peak (a JS `Map` keeps its peak's table).
 *
 * @module
 */
import { MAX_MESSAGE_BYTES } from "./constants.ts";
import { sealedLength } from "./e2e_crypto.ts";
import type { TextPart } from "./messages.ts";
import { PeakSize } from "./shrink.ts";
import { utf8Length } from "./text.ts";

interface Partial {
  source: string;
  key: string;
  parts: (string | undefined)[];
  got: number;
  /** Text held, in UTF-16 code units. */
  size: number;
  /** Text held, in UTF-8 bytes. */
  bytes: number;
  expires: number;
}

/** Options for {@linkcode Reassembler}. */
export interface ReassemblerOptions {
  /** How long an incomplete message is kept, in milliseconds (default 10 s). */
  ttl?: number;
  /** Most text held in incomplete messages, in UTF-16 units (default 4 Mi). */
  maxBuffered?: number;
  /**
   * Most incomplete messages one source may hold (default 2: a client sends
   * one message at a time); a newer one gives up the source's oldest.
   */
  maxPerSource?: number;
  /**
   * Most text one source may hold in incomplete messages, in UTF-16 units
   * (default 2 × 16 Ki); past it the source's oldest partials are given up.
   */
  maxBufferedPerSource?: number;
  /** Largest whole message, in UTF-8 bytes (default `MAX_MESSAGE_BYTES`). */
  maxMessageBytes?: number;
}

/** Why a part was refused. */
export type RefusalReason = "too_big" | "full" | "conflict";

/** What {@linkcode Reassembler.add} returns. */
export type PartResult =
  | { status: "complete"; text: string }
  | { status: "partial" }
  | { status: "refused"; reason: RefusalReason };

/** Counts of what the reassembler gave up or refused. */
export interface ReassemblyShed {
  /** Partials given up for a newer one of the same source. */
  evicted: number;
  /** Partials that expired incomplete. */
  expired: number;
  /** Parts refused because the total bound was reached. */
  full: number;
  /** Parts refused because their message passed the size limit. */
  tooBig: number;
}

/**
 * Collects message parts by source and key until every part is there.
 *
 * @example Usage
 * ```ts
 * import { Reassembler } from "./reassembly.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const r = new Reassembler();
 * assertEquals(r.add("peer", { k: "m1", pi: 1, pn: 2, text: "lo" }, 0).status, "partial");
 * assertEquals(r.add("peer", { k: "m1", pi: 0, pn: 2, text: "hel" }, 0), { status: "complete", text: "hello" });
 * ```
 */
export class Reassembler {
  // Every partial, oldest first (expiry order: the lifetime is fixed).
  #partials = new Map<string, Partial>();
  // Each source's partials, oldest first.
  #bySource = new Map<string, Map<string, Partial>>();
  #sourceSize = new Map<string, number>();
  #peak = new PeakSize();
  #buffered = 0;
  #bufferedBytes = 0;
  #ttl: number;
  #max: number;
  #perSource: number;
  #maxPerSource: number;
  #maxBytes: number;
  /** What was given up or refused so far. */
  readonly shed: ReassemblyShed = {
    evicted: 0,
    expired: 0,
    full: 0,
    tooBig: 0,
  };

  /**
   * Makes one with these settings.
   *
   * @param options Lifetime and memory bounds.
   */
  constructor(options: ReassemblerOptions = {}) {
    this.#ttl = options.ttl ?? 10_000;
    this.#max = options.maxBuffered ?? 4 * 1024 * 1024;
    this.#maxBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.#perSource = options.maxPerSource ?? 2;
    // Two sealed messages (a sealed one is longer than its plaintext).
    this.#maxPerSource = options.maxBufferedPerSource ??
      2 * sealedLength(MAX_MESSAGE_BYTES);
  }

  /** Text currently held in incomplete messages, in UTF-16 units. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Text currently held in incomplete messages, in UTF-8 bytes. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Incomplete messages held now. */
  get size(): number {
    return this.#partials.size;
  }

  /**
   * When the oldest incomplete message expires ({@linkcode sweep} gives it
   * up then), or undefined when none is held.
   */
  get sweepAt(): number | undefined {
    for (const p of this.#partials.values()) return p.expires;
    return undefined;
  }

  /**
   * Gives up the incomplete messages whose time is over (counted in
   * `shed.expired`), and rebuilds the maps once they hold under a quarter
   * of their peak.
   *
   * @param now The current time (ms).
   */
  sweep(now: number): void {
    this.#expire(now);
    if (this.#peak.rebuild(this.#partials.size)) {
      this.#partials = new Map(this.#partials);
      this.#bySource = new Map(this.#bySource);
      this.#sourceSize = new Map(this.#sourceSize);
    }
  }

  /** Incomplete messages `source` holds now. */
  heldBy(source: string): number {
    return this.#bySource.get(source)?.size ?? 0;
  }

  /**
   * Adds one part. `source` scopes the key and the per-source bounds (the
   * authenticated sender). A part that conflicts with what is held, that
   * makes its message too big, or that would pass the total bound is
   * refused.
   */
  add(source: string, part: TextPart, now: number): PartResult {
    // A sealed message (`e`) is as long as its plaintext sealed.
    const maxBytes = part.e === 1
      ? sealedLength(this.#maxBytes)
      : this.#maxBytes;
    if (part.pn === 1) {
      return utf8Length(part.text) > maxBytes
        ? this.#tooBig()
        : { status: "complete", text: part.text };
    }
    this.#expire(now);
    const key = `${source}\u0000${part.k}`;
    let p = this.#partials.get(key);
    if (p !== undefined && p.parts.length !== part.pn) {
      return { status: "refused", reason: "conflict" };
    }
    if (p !== undefined && p.parts[part.pi] !== undefined) {
      return { status: "partial" };
    }
    const n = part.text.length;
    const bytes = utf8Length(part.text);
    if ((p?.bytes ?? 0) + bytes > maxBytes) {
      if (p !== undefined) this.#remove(p);
      return this.#tooBig();
    }
    if (p === undefined) {
      // The source makes room among its own partials, oldest first.
      const own = this.#bySource.get(source);
      while (own !== undefined && own.size >= this.#perSource) {
        this.#evictOldest(own);
      }
    }
    while (
      (this.#sourceSize.get(source) ?? 0) + n > this.#maxPerSource &&
      this.#bySource.get(source) !== undefined
    ) {
      const own = this.#bySource.get(source)!;
      const oldest = own.values().next().value!;
      if (oldest === p) break;
      this.#evictOldest(own);
    }
    if (this.#buffered + n > this.#max) {
      this.shed.full++;
      return { status: "refused", reason: "full" };
    }
    if (p === undefined) {
      p = {
        source,
        key,
        parts: new Array(part.pn),
        got: 0,
        size: 0,
        bytes: 0,
        expires: now + this.#ttl,
      };
      this.#partials.set(key, p);
      this.#peak.grew(this.#partials.size);
      let own = this.#bySource.get(source);
      if (own === undefined) this.#bySource.set(source, own = new Map());
      own.set(key, p);
    }
    p.parts[part.pi] = part.text;
    p.got++;
    p.size += n;
    p.bytes += bytes;
    this.#buffered += n;
    this.#bufferedBytes += bytes;
    this.#sourceSize.set(source, (this.#sourceSize.get(source) ?? 0) + n);
    if (p.got < part.pn) return { status: "partial" };
    this.#remove(p);
    return { status: "complete", text: p.parts.join("") };
  }

  #tooBig(): PartResult {
    this.shed.tooBig++;
    return { status: "refused", reason: "too_big" };
  }

  #evictOldest(own: Map<string, Partial>): void {
    const oldest = own.values().next().value;
    if (oldest === undefined) return;
    this.shed.evicted++;
    this.#remove(oldest);
  }

  #remove(p: Partial): void {
    if (this.#partials.get(p.key) !== p) return;
    this.#partials.delete(p.key);
    this.#buffered -= p.size;
    this.#bufferedBytes -= p.bytes;
    const own = this.#bySource.get(p.source);
    own?.delete(p.key);
    if (own !== undefined && own.size === 0) {
      this.#bySource.delete(p.source);
      this.#sourceSize.delete(p.source);
    } else {
      this.#sourceSize.set(
        p.source,
        (this.#sourceSize.get(p.source) ?? 0) - p.size,
      );
    }
  }

  #expire(now: number): void {
    for (const p of this.#partials.values()) {
      if (p.expires > now) break;
      this.shed.expired++;
      this.#remove(p);
    }
  }
}
