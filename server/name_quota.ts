/**
 * Name quotas (issue 13): how many names were registered from each
 * address:port and from each IP address, so that one source cannot fill the
 * table. Loopback is exempt from the per-host quota (the host's own users).
 * A name's quota is given back when the name is forgotten, and the maps are
 * rebuilt once they hold under a quarter of their peak (a JS `Map` keeps
 * its peak's table), so names registered by the thousand and forgotten
 * give their memory back.
 *
 * @module
 */
import { type Address, addressKey } from "../protocol/address.ts";
import { PeakSize } from "../protocol/shrink.ts";

/** The quotas; absent means no limit. */
export interface NameQuotaOptions {
  /** Most names registered from one address:port. */
  namesPerAddress?: number;
  /** Most names registered from one IP address, loopback exempt. */
  namesPerHost?: number;
}

/** Counts the names created from each address:port and each host. */
export class NameQuota {
  #namesPerAddress: number;
  #namesPerHost: number;
  // Names created from each address:port and each host.
  #namesFrom = new Map<string, number>();
  // Where each name was created from, to give its quota back when forgotten.
  #createdFrom = new Map<string, Address>();
  #peak = new PeakSize();

  /** @param options The quotas (default: none). */
  constructor(options: NameQuotaOptions) {
    this.#namesPerAddress = options.namesPerAddress ?? Infinity;
    this.#namesPerHost = options.namesPerHost ?? Infinity;
  }

  /** Names whose source is remembered now. */
  get size(): number {
    return this.#createdFrom.size;
  }

  /** Whether one more name may be registered from `from`. */
  allows(from: Address): boolean {
    return (this.#namesFrom.get(addressKey(from)) ?? 0) <
        this.#namesPerAddress &&
      (isLoopback(from.hostname) ||
        (this.#namesFrom.get(from.hostname) ?? 0) < this.#namesPerHost);
  }

  /** Counts a name created from `from`. */
  count(name: string, from: Address): void {
    this.#createdFrom.set(name, from);
    this.#peak.grew(this.#createdFrom.size);
    for (const k of [addressKey(from), from.hostname]) {
      this.#namesFrom.set(k, (this.#namesFrom.get(k) ?? 0) + 1);
    }
  }

  /** Gives a forgotten name's quota back to where it was created from. */
  uncount(name: string): void {
    const from = this.#createdFrom.get(name);
    if (from === undefined) return;
    this.#createdFrom.delete(name);
    for (const k of [addressKey(from), from.hostname]) {
      const n = (this.#namesFrom.get(k) ?? 1) - 1;
      if (n <= 0) this.#namesFrom.delete(k);
      else this.#namesFrom.set(k, n);
    }
    if (this.#peak.rebuild(this.#createdFrom.size)) {
      this.#createdFrom = new Map(this.#createdFrom);
      this.#namesFrom = new Map(this.#namesFrom);
    }
  }
}

// Loopback: the host's own users, exempt from the per-host quota.
function isLoopback(hostname: string): boolean {
  return hostname === "::1" || hostname.startsWith("127.");
}
