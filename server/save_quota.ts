/**
 * Quotas per source for saved messages (issue 13, "Quotas per source, not
 * only per recipient"): what one sender name, and what one host (its IP
 * address; for IPv6 its /64, see `host_key.ts`), may have saved for Offline
 * users per hour, so that neither one name nor one host holding many names
 * can fill the store for everyone. Loopback is exempt from the per-host
 * quota (the host's own users), as it is from the per-host name quota.
 *
 * Each quota counts in a fixed window of one hour from its first save; a
 * save is counted against both the sender's and its host's quota, or
 * against neither when either would be passed. The windows whose hour is
 * over are forgotten at most once an hour (or when the maps are full), and
 * the maps rebuilt once they hold under a quarter of their peak (a JS `Map`
 * keeps its peak's table).
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import { PeakSize } from "../protocol/shrink.ts";
import { hostKey, isLoopback } from "./host_key.ts";
import type { ServerLimits } from "./options.ts";

/** How long a save quota counts saves, in ms (one hour). */
export const SAVE_QUOTA_WINDOW_MS = 3_600_000;

/**
 * Sources (sender names and hosts, each) whose quota is remembered before
 * the stale ones are trimmed: a quota lives one hour, so the maps hold at
 * most the sources that saved within the hour.
 */
export const SAVE_QUOTA_SOURCES_MAX = 10_000;

/** The limits a {@linkcode SaveQuota} enforces, per hour. */
export type SaveQuotaLimits = Pick<
  ServerLimits,
  | "savesPerSender"
  | "savedBytesPerSender"
  | "savesPerHost"
  | "savedBytesPerHost"
>;

/** Who is saving: the sender's name and the address its request came from. */
export interface SaveSource {
  /** The sender's name. */
  name: string;
  /** The address the request came from. */
  from: Address;
}

/** What is to be saved: how many copies of how long a text, and when. */
export interface SaveCharge {
  /** Copies to be saved (one per Offline recipient). */
  copies: number;
  /** The length of each copy's text, in UTF-16 code units. */
  length: number;
  /** The current time (ms). */
  now: number;
}

/** Which quota refused a save. */
export type SaveQuotaRefusal = "sender" | "host";

interface Window {
  start: number;
  count: number;
  bytes: number;
}

/**
 * Saves counted per sender name and per host, each in a one-hour window.
 *
 * @example Usage
 * ```ts
 * import { SaveQuota } from "./save_quota.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const quota = new SaveQuota({
 *   savesPerSender: 2, savedBytesPerSender: 100,
 *   savesPerHost: 3, savedBytesPerHost: 100,
 * });
 * const from = { hostname: "10.0.0.1", port: 4000 };
 * const one = { copies: 1, length: 10, now: 0 };
 * assertEquals(quota.charge({ name: "a", from }, one), undefined);
 * assertEquals(quota.charge({ name: "a", from }, one), undefined);
 * assertEquals(quota.charge({ name: "a", from }, one), "sender");
 * assertEquals(quota.charge({ name: "b", from }, one), undefined);
 * assertEquals(quota.charge({ name: "c", from }, one), "host");
 * ```
 */
export class SaveQuota {
  #limits: SaveQuotaLimits;
  #senders = new Map<string, Window>();
  #hosts = new Map<string, Window>();
  #peak = new PeakSize();
  #trimmedAt = -Infinity;

  /** @param limits Saves and text allowed per sender and per host, per hour. */
  constructor(limits: SaveQuotaLimits) {
    this.#limits = limits;
  }

  /** Sender names and hosts whose quota is remembered now. */
  get size(): number {
    return this.#senders.size + this.#hosts.size;
  }

  /**
   * Counts a save if both its sender's and its host's quota allow it.
   *
   * @param source The sender's name and address.
   * @param charge How many copies of how long a text, and the time.
   * @returns Undefined when counted; else which quota refused it (nothing
   * is counted then).
   */
  charge(source: SaveSource, charge: SaveCharge): SaveQuotaRefusal | undefined {
    const { copies, length, now } = charge;
    if (copies <= 0) return undefined;
    if (now - this.#trimmedAt >= SAVE_QUOTA_WINDOW_MS) this.#trim(now);
    const l = this.#limits;
    const bytes = copies * length;
    const sender = this.#window(this.#senders, source.name, now);
    if (
      sender.count + copies > l.savesPerSender ||
      sender.bytes + bytes > l.savedBytesPerSender
    ) {
      return "sender";
    }
    const host = isLoopback(source.from)
      ? undefined
      : this.#window(this.#hosts, hostKey(source.from), now);
    if (
      host !== undefined &&
      (host.count + copies > l.savesPerHost ||
        host.bytes + bytes > l.savedBytesPerHost)
    ) {
      return "host";
    }
    for (const w of host === undefined ? [sender] : [sender, host]) {
      w.count += copies;
      w.bytes += bytes;
    }
    return undefined;
  }

  /**
   * When a quota starts again: the end of the hour that quota counts in, for
   * telling a refused sender when to try again (`err quota`'s `at`).
   *
   * @param source The sender's name and address.
   * @param quota Which quota refused it, as {@linkcode SaveQuota.charge}
   * returned.
   * @returns The time it starts again (ms, on the clock `charge` was given),
   * or undefined when that quota counts nothing for the source now.
   *
   * @example Usage
   * ```ts
   * import { SAVE_QUOTA_WINDOW_MS, SaveQuota } from "./save_quota.ts";
   * import { assertEquals } from "../tests/_assert.ts";
   * const quota = new SaveQuota({
   *   savesPerSender: 1, savedBytesPerSender: 100,
   *   savesPerHost: 10, savedBytesPerHost: 100,
   * });
   * const source = { name: "a", from: { hostname: "10.0.0.1", port: 4000 } };
   * quota.charge(source, { copies: 1, length: 10, now: 5_000 });
   * assertEquals(quota.charge(source, { copies: 1, length: 10, now: 9_000 }), "sender");
   * assertEquals(quota.resetsAt(source, "sender"), 5_000 + SAVE_QUOTA_WINDOW_MS);
   * ```
   */
  resetsAt(source: SaveSource, quota: SaveQuotaRefusal): number | undefined {
    const w = quota === "sender"
      ? this.#senders.get(source.name)
      : this.#hosts.get(hostKey(source.from));
    return w === undefined ? undefined : w.start + SAVE_QUOTA_WINDOW_MS;
  }

  // Forgets the windows whose hour is over; rebuilds the maps after a peak.
  #trim(now: number): void {
    this.#trimmedAt = now;
    trim(this.#senders, now);
    trim(this.#hosts, now);
    if (this.#peak.rebuild(this.size)) {
      this.#senders = new Map(this.#senders);
      this.#hosts = new Map(this.#hosts);
    }
  }

  // The current window of `key`, a fresh one if its hour is over.
  #window(map: Map<string, Window>, key: string, now: number): Window {
    let w = map.get(key);
    if (w === undefined || now - w.start >= SAVE_QUOTA_WINDOW_MS) {
      if (w === undefined && map.size >= SAVE_QUOTA_SOURCES_MAX) {
        trim(map, now);
      }
      map.set(key, w = { start: now, count: 0, bytes: 0 });
      this.#peak.grew(this.size);
    }
    return w;
  }
}

// Forgets the windows whose hour is over.
function trim(map: Map<string, Window>, now: number): void {
  for (const [key, w] of map) {
    if (now - w.start >= SAVE_QUOTA_WINDOW_MS) map.delete(key);
  }
}
