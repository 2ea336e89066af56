/**
 * What a new leader of a NATS-backed chat takes over from the last one
 * (issue 10): its users, and the sessions it keeps. A session lives on only
 * in the chat it was made in (its boot id and transit key are the chat's,
 * chat_identity.ts), and only when no stored message waits for its user
 * (only a welcome starts the offline list). A kept session is keyed for
 * transit at once and sent nothing until its client is heard from
 * (restored_sessions.ts).
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type { ServerParts } from "./parts.ts";
import type { UserRecord } from "./user_records.ts";

/**
 * Brings back the users of `records` (sessions.ts, `restore`), keeping the
 * sessions it may.
 *
 * @param parts The server's parts.
 * @param records The stored user records, in any order.
 * @param options The current time (ms since the epoch), and more names
 * with messages waiting (their sessions are not kept).
 * @returns How many sessions were kept.
 */
export function restoreUsers(
  parts: ServerParts,
  records: readonly UserRecord[],
  options: { now: number; waiting?: ReadonlySet<string> },
): number {
  const { sessions, offline, transit, restored, chat } = parts;
  const { now, waiting } = options;
  const kept = sessions.restore(records, {
    now,
    keepSession: (name) =>
      chat && waiting?.has(name) !== true && offline.list(name).length === 0,
  });
  for (const user of kept) transit.restore(user);
  restored.wait(kept, now);
  return kept.length;
}

/**
 * A datagram that passed validation came from `from`: a kept session there
 * not heard from until now gets what waited for it.
 *
 * @param parts The server's parts.
 * @param from The datagram's source.
 * @param now The current time (ms).
 */
export function heardFrom(
  parts: ServerParts,
  from: Address,
  now: number,
): void {
  const { users, restored, deliveries } = parts;
  if (restored.deadline === undefined) return;
  const user = users.userAt(from);
  if (user !== undefined && restored.heard(user)) deliveries.resume(user, now);
}
