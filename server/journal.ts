/**
 * Write-ahead for messages in flight (issue 10, "nothing lost when a server
 * dies"), with an external, durable store only. A group message the server
 * takes is written to the store's journal as one {@linkcode JournalEntry}
 * (its text and the names of every other user) before its sender is ACKed
 * and it is fanned out; the entry is deleted once every recipient ACKed it
 * or has a stored copy (server/group_relay.ts). A server that takes the
 * lead after a crash loads the entries left and turns each into stored
 * copies for the recipients that have none ({@linkcode recoverJournal}),
 * delivered at their next `reg` like any stored message; a recipient whose
 * session the new leader kept (Online) gets it live instead. A private message the server takes
 * `pending` is saved as a stored copy first (server/private_relay.ts).
 *
 * With the in-memory store nothing here runs: a crash loses the memory too.
 *
 * @module
 */
import type { Notices } from "./notices.ts";
import type { OfflineMessages } from "./offline_messages.ts";
import type { JournalEntry } from "./store.ts";

/** What recovery needs from the rest of the server. */
export interface RecoveryOptions {
  /** The offline store, through its requests (already restored). */
  offline: OfflineMessages;
  /** Tells a sender when a copy could not be saved. */
  notices: Notices;
  /** The current time (ms). */
  now: number;
  /** Whether a recipient is Online (a session the new leader kept). */
  online?: (name: string) => boolean;
  /**
   * Delivers the entry live to Online recipients; `then` runs once each
   * has ACKed it or has a stored copy (server/group_relay.ts).
   */
  deliverLive?: (
    entry: JournalEntry,
    names: string[],
    then: (now: number) => void,
  ) => void;
}

/**
 * The id of the copy recovered from `entry` for its `index`th recipient:
 * the same whichever server recovers it, and however often, so that the
 * store keeps one copy (a JetStream `Nats-Msg-Id`, runtime/nats_store.ts).
 */
export function recoveredCopyId(entry: JournalEntry, index: number): string {
  return `${entry.id}.${index}`;
}

/**
 * Turns journal entries left by a server that died into stored copies: for
 * each recipient listed that has no stored copy of the message (same sender
 * and message key) yet, one copy is saved, or, for a recipient Online (its
 * session kept), the message is delivered live; once every save is answered
 * and every live delivery resolved the entry is deleted. A copy the store refuses is told to its sender
 * (`refused`) when the sender is known. Idempotent: copies already saved are
 * not saved again, and copy ids are deterministic.
 *
 * @param entries The journal entries the store kept, oldest first.
 * @param options The offline store, notices and the current time.
 */
export function recoverJournal(
  entries: readonly JournalEntry[],
  options: RecoveryOptions,
): void {
  const { offline, notices, now } = options;
  const online = options.online ?? (() => false);
  for (const entry of entries) {
    const { from, messageKey } = entry;
    const pending = entry.recipients
      .map((to, index) => ({ to, index }))
      .filter(({ to }) =>
        to !== from && !offline.hasCopy(to, { from, messageKey })
      );
    const live = pending.filter(({ to }) => online(to)).map(({ to }) => to);
    const missing = pending.filter(({ to }) => !online(to));
    // The entry stays until every copy is saved and every live delivery
    // resolved (one count for all of these).
    const left = { n: missing.length + (live.length > 0 ? 1 : 0) };
    if (left.n === 0) {
      offline.unjournal(entry.id, now);
      continue;
    }
    if (live.length > 0) {
      options.deliverLive?.(entry, live, (at) => {
        if (--left.n === 0) offline.unjournal(entry.id, at);
      });
    }
    for (const { to, index } of missing) {
      offline.save({
        to,
        from,
        group: true,
        text: entry.text,
        messageKey,
        savedAt: entry.savedAt,
      }, {
        id: recoveredCopyId(entry, index),
        now,
        then: (outcome, at) => {
          if (outcome !== "saved") {
            notices.tell(from, {
              kind: "refused",
              ...(outcome === "unavailable"
                ? { why: "store_unavailable" as const }
                : {}),
              recipient: to,
              messageKey,
              savedAt: entry.savedAt,
            }, at);
          }
          if (--left.n === 0) offline.unjournal(entry.id, at);
        },
      });
    }
  }
}
