/**
 * What a new leader of a NATS-backed chat takes over from the last one
 * (issue 10): its users, and the sessions it keeps. A session lives on only
 * in the chat it was made in (its boot id and transit key are the chat's,
 * chat_identity.ts), and only when no stored message waits for its user
 * (only a welcome starts the offline list). A kept session is keyed for
 * transit at once and sent no delivery or notice until its client is heard
 * from (restored_sessions.ts).
 *
 * @module
 */
import { addressKey } from "../protocol/address.ts";
import type { ServerParts } from "./parts.ts";
import type { User } from "./user.ts";
import type { UserRecord } from "./user_records.ts";

/**
 * Brings back the users of `records` (sessions.ts, `restore`), keeping the
 * sessions it may.
 *
 * @param parts The server's parts.
 * @param records The stored user records, in any order.
 * @param options The current time (ms since the epoch).
 * @returns How many sessions were kept.
 */
export function restoreUsers(
  parts: ServerParts,
  records: readonly UserRecord[],
  options: { now: number },
): number {
  const { sessions, offline, transit, restored, chat } = parts;
  const { now } = options;
  // Two sessions recorded at one address (one record is stale): of those
  // that may be kept, the one written last keeps it.
  const newest = new Map<string, UserRecord>();
  for (const r of records) {
    if (
      !chat || !r.online || r.token === undefined ||
      offline.list(r.name).length > 0
    ) continue;
    const key = addressKey(r.address);
    const held = newest.get(key);
    if (held === undefined || r.lastSeen > held.lastSeen) newest.set(key, r);
  }
  const kept = sessions.restore(records, {
    now,
    keepSession: (r) => newest.get(addressKey(r.address)) === r,
  });
  for (const user of kept) transit.restore(user);
  restored.wait(kept, now);
  return kept.length;
}

/**
 * An authenticated request or keepalive came from `user` (its token, from
 * its address): if its session was restored and not heard from until now,
 * what waited for it goes. Never on a `reg` or an unauthenticated datagram:
 * a forged source must not end the wait.
 *
 * @param parts The server's parts.
 * @param user The user it authenticated as.
 * @param now The current time (ms).
 */
export function heardFrom(parts: ServerParts, user: User, now: number): void {
  if (!parts.restored.heard(user)) return;
  parts.deliveries.resume(user, now);
  parts.notices.sendHeld(user, now);
}
