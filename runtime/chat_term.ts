/**
 * A new leader's term of a NATS-backed chat (server/chat_identity.ts): the
 * chat's identity record is read from the users bucket and written back
 * with its term one higher, by compare-and-set, so that no two leaders ever
 * hold the same term. The first leader of a chat makes the record (term 1).
 *
 * @module
 */
import {
  type ChatIdentity,
  encodeChatIdentity,
  MAX_TERM,
  newChatIdentity,
  parseChatIdentity,
} from "../server/chat_identity.ts";
import type { NatsStore } from "./nats_store.ts";

/** Reads and writes before a contended term gives up (throws). */
const TERM_ATTEMPTS = 5;

/** What {@linkcode takeLeaderTerm} needs of the store. */
export type ChatIdentityBucket = Pick<
  NatsStore,
  "getChatIdentity" | "putChatIdentity"
>;

/**
 * Takes the next term of the chat's identity, making the identity if the
 * chat has none yet.
 *
 * @param bucket The NATS store (its users bucket).
 * @param options Random bytes, for a new chat's boot id and transit seed.
 * @returns The identity with this leader's term.
 * @throws when NATS does not answer, when other nodes won the record
 * {@linkcode TERM_ATTEMPTS} times in a row, when the stored record is
 * malformed (a leader never serves with a made-up identity), or when the
 * chat used its last term (`MAX_TERM`).
 */
export async function takeLeaderTerm(
  bucket: ChatIdentityBucket,
  options: { random: (length: number) => Uint8Array },
): Promise<ChatIdentity> {
  for (let attempt = 0; attempt < TERM_ATTEMPTS; attempt++) {
    const held = await bucket.getChatIdentity();
    if (held === undefined) {
      const chat = { ...newChatIdentity(options.random), term: 1 };
      if (await bucket.putChatIdentity(encodeChatIdentity(chat))) return chat;
      continue;
    }
    const stored = parseChatIdentity(held.text);
    if (stored === undefined) {
      throw new Error("the chat's identity record in NATS is malformed");
    }
    if (stored.term + 1 >= MAX_TERM) {
      throw new Error(
        `the chat has had ${stored.term} leaders, the most its terms allow`,
      );
    }
    const chat = { ...stored, term: stored.term + 1 };
    const written = await bucket.putChatIdentity(encodeChatIdentity(chat), {
      revision: held.revision,
    });
    if (written) return chat;
  }
  throw new Error("other nodes kept taking the chat's term");
}
