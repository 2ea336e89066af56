/**
 * The gate every request of a session passes before a part acts on it:
 * its token is checked against its source address (a request from anyone
 * else is refused `not_registered`, with the boot id), a copy of an old
 * request is dropped as a replay (replay_guard.ts), and a session restored
 * from another leader is heard from (leader_restore.ts). Keepalives get
 * their one small answer here (protocol/README.md, "Keepalives and
 * recovery"): never cached, never larger than the request, carrying the
 * boot id, so that a client learns within one interval that the server
 * restarted (another boot id), forgot it (`not_registered`) or marked it
 * Offline (`offline`).
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type {
  KeepaliveMessage,
  Message,
  RegMessage,
} from "../protocol/messages.ts";
import { heardFrom } from "./leader_restore.ts";
import type { ServerParts } from "./parts.ts";
import type { ServerDropReason } from "./stats.ts";
import type { User } from "./user.ts";

/** A request as the gate sees it, and where to count what it drops. */
export interface GateOptions {
  /** Its source address. */
  from: Address;
  /** Its size in bytes (the amplification guard). */
  size: number;
  /** The current time (ms). */
  now: number;
  /** Counts a dropped request. */
  drop: (reason: ServerDropReason) => void;
}

/**
 * The user a request (`dereg`, `all`, `save`, `sync`, `who`) is from, if
 * its token is that user's session's and it comes from that session's
 * address and is not a replay; otherwise it is answered or dropped here.
 *
 * @param parts The server's parts.
 * @param m The request's id and token.
 * @param options Its source, size, the time and the drop counter.
 * @returns The user, or undefined (already answered or counted).
 */
export function authenticateRequest(
  parts: ServerParts,
  m: { id: number; tok: string },
  options: GateOptions,
): User | undefined {
  const { from, size, now, drop } = options;
  const user = parts.users.authenticate(m.tok, from);
  if (user === undefined) {
    drop("unauthenticated");
    // Not cached: the same answer is made again for a repeat, and spoofed
    // sources cannot push real answers out of the cache.
    parts.responses.answerOnce(
      from,
      { t: "err", id: m.id, code: "not_registered", boot: parts.bootId },
      { requestSize: size, now },
    );
    return undefined;
  }
  // A copy of an old request sent again: never acted on twice.
  if (!parts.replay.accept(user, { id: m.id, now })) {
    drop("replay");
    return undefined;
  }
  heardFrom(parts, user, now);
  return user;
}

/**
 * A registration (`reg`). One with the session's token is the session's
 * request: a copy of an old one is a replay (a refresh would put a user
 * that left back Online). Whoever is welcomed is heard from.
 *
 * @param parts The server's parts.
 * @param m The registration.
 * @param options Its source, size, the time and the drop counter.
 */
export function registerRequest(
  parts: ServerParts,
  m: RegMessage,
  options: GateOptions,
): void {
  const { from, size, now, drop } = options;
  const { users, replay, sessions } = parts;
  const known = m.tok === undefined
    ? undefined
    : users.authenticate(m.tok, from);
  if (known !== undefined && !replay.accept(known, { id: m.id, now })) {
    return drop("replay");
  }
  sessions.register({ message: m, from, size }, now);
  const user = users.userAt(from);
  if (user?.online === true && user.name === m.name) {
    heardFrom(parts, user, now);
  }
}

/**
 * A keepalive (`ka`): answered once, with the boot id: `ack` for an Online
 * session, `err` `not_registered` for an unknown token or one used from
 * another address, `err` `offline` for a session marked Offline. A replayed
 * one is dropped.
 *
 * @param parts The server's parts.
 * @param m The keepalive.
 * @param options Its source, size, the time and the drop counter.
 */
export function keepaliveRequest(
  parts: ServerParts,
  m: KeepaliveMessage,
  options: GateOptions,
): void {
  const { from, size, now, drop } = options;
  const user = parts.users.authenticate(m.tok, from);
  if (user !== undefined) {
    if (!parts.replay.accept(user, { id: m.id, now })) return drop("replay");
    heardFrom(parts, user, now);
  }
  const boot = parts.bootId;
  const answer: Message = user === undefined
    ? { t: "err", id: m.id, code: "not_registered", boot }
    : user.online
    ? { t: "ack", id: m.id, boot }
    : { t: "err", id: m.id, code: "offline", boot };
  if (user === undefined) drop("unauthenticated");
  parts.responses.answerOnce(from, answer, { requestSize: size, now });
}
