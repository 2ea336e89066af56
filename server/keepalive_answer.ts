/**
 * The server's answer to a client's keepalive (`ka`; protocol/README.md,
 * "Keepalives and recovery"): one small datagram, never cached, never
 * larger than the request, carrying the boot id, so that a client learns
 * within one keepalive interval that the server restarted (another boot
 * id), forgot it (`not_registered`) or marked it Offline (`offline`).
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type { KeepaliveMessage, Message } from "../protocol/messages.ts";
import type { ServerParts } from "./parts.ts";

/**
 * The answer to a keepalive: `ack` for an Online session, `err`
 * `not_registered` for an unknown token or one used from another address,
 * `err` `offline` for a session marked Offline; each with the boot id.
 *
 * @param parts The server's parts (its users and boot id).
 * @param m The keepalive.
 * @param from Its source address.
 * @returns The answer.
 */
export function keepaliveAnswer(
  parts: Pick<ServerParts, "users" | "bootId">,
  m: KeepaliveMessage,
  from: Address,
): Message {
  const user = parts.users.authenticate(m.tok, from);
  const boot = parts.bootId;
  return user === undefined
    ? { t: "err", id: m.id, code: "not_registered", boot }
    : user.online
    ? { t: "ack", id: m.id, boot }
    : { t: "err", id: m.id, code: "offline", boot };
}
