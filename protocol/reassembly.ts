/**
 * Reassembly of messages split into parts, with bounded memory.
 *
 * @module
 */
import type { TextPart } from "./messages.ts";

interface Partial {
  parts: (string | undefined)[];
  got: number;
  size: number;
  expires: number;
}

/** Options for {@linkcode Reassembler}. */
export interface ReassemblerOptions {
  /** How long an incomplete message is kept, in milliseconds (default 10 s). */
  ttl?: number;
  /** Most text held in incomplete messages, in UTF-16 units (default 4 Mi). */
  maxBuffered?: number;
}

/** What {@linkcode Reassembler.add} returns. */
export type PartResult =
  | { status: "complete"; text: string }
  | { status: "partial" }
  | { status: "refused" };

/**
 * Collects message parts by key until every part is there.
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
  #partials = new Map<string, Partial>();
  #buffered = 0;
  #ttl: number;
  #max: number;

  /** @param options Lifetime and memory bound. */
  constructor(options: ReassemblerOptions = {}) {
    this.#ttl = options.ttl ?? 10_000;
    this.#max = options.maxBuffered ?? 4 * 1024 * 1024;
  }

  /** Text currently held in incomplete messages. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Adds one part. `source` scopes the key (e.g. the sender's address).
   * A part that conflicts with what is held, or that would exceed the memory
   * bound, is refused.
   */
  add(source: string, part: TextPart, now: number): PartResult {
    if (part.pn === 1) return { status: "complete", text: part.text };
    this.#expire(now);
    const key = `${source}\u0000${part.k}`;
    let p = this.#partials.get(key);
    if (p === undefined) {
      p = {
        parts: new Array(part.pn),
        got: 0,
        size: 0,
        expires: now + this.#ttl,
      };
      this.#partials.set(key, p);
    }
    if (p.parts.length !== part.pn) return { status: "refused" };
    if (p.parts[part.pi] !== undefined) return { status: "partial" };
    if (this.#buffered + part.text.length > this.#max) {
      return { status: "refused" };
    }
    p.parts[part.pi] = part.text;
    p.got++;
    p.size += part.text.length;
    this.#buffered += part.text.length;
    if (p.got < part.pn) return { status: "partial" };
    this.#partials.delete(key);
    this.#buffered -= p.size;
    return { status: "complete", text: p.parts.join("") };
  }

  #expire(now: number): void {
    for (const [k, p] of this.#partials) {
      if (p.expires > now) break;
      this.#partials.delete(k);
      this.#buffered -= p.size;
    }
  }
}
