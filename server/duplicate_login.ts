/**
 * The duplicate-login probe (`SEMANTICS.md`, "duplicate login"): a `reg` for
 * a name Online at another address. The server pings the old session and
 * holds the newcomer's request as busy: if the old session ACKs, the
 * newcomer is refused `name_in_use`; if the ping expires unanswered, the old
 * session is gone and the newcomer takes the name over.
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type { ReliableSender } from "./reliable_sender.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { Registration } from "./sessions.ts";
import type { User } from "./user.ts";

/** A login: where from, the request it answers, and whether it is transient. */
export interface Login {
  /** The address the session registers from. */
  from: Address;
  /** The `reg`'s datagram id, answered by the welcome. */
  id: number;
  /** The current time (ms). */
  now: number;
  /** A transient session (`--exec`): it leaves no Offline row behind. */
  transient: boolean;
  /** A proven claim: the public key to bind to the name if it is not yet. */
  claim?: string;
  /** The session's X25519 public key, published in its row. */
  agreementKey?: string;
  /**
   * A re-login from the address the session already has (a client restarted
   * on the same port): its row changes no printed field, so the table
   * change is quiet (seed test case 6: no `[Client table updated.]`).
   */
  quiet?: boolean;
}

/** What the probe needs, and where the name goes if the old session is gone. */
export interface ProbeOptions {
  /** The current time (ms). */
  now: number;
  /** Holds the newcomer's request as busy, then answers it. */
  responses: ResponseCache;
  /** Sends the ping to the old session (the `probe` window). */
  sender: ReliableSender;
  /** Logs the newcomer in: the old session did not answer. */
  takeOver: (login: Login) => void;
}

/**
 * Is the old session still there? Asks it before handing the name over;
 * `user.probing` is true until the answer or the timeout.
 *
 * @param user The user Online under the name.
 * @param reg The newcomer's registration, with its proven claim key if any.
 * @param options The time, the response cache, the sender and the takeover.
 */
export function probeOldSession(
  user: User,
  reg: Registration & { claim?: string },
  options: ProbeOptions,
): void {
  const { now, responses } = options;
  const { message: m, from: newcomer, size } = reg;
  user.probing = true;
  responses.markBusy(newcomer, m.id, now);
  options.sender.send(user.address, { t: "ping", id: 0 }, {
    now,
    window: "probe",
    // The old session answered: the newcomer is refused.
    onAck: (ack) => {
      user.probing = false;
      responses.forget(newcomer, m.id);
      responses.respond(newcomer, {
        t: "err",
        id: m.id,
        code: "name_in_use",
        name: user.name,
      }, { requestSize: size, now: ack.now });
    },
    // The old session is gone: the newcomer takes the name over.
    onExpire: (at) => {
      user.probing = false;
      responses.forget(newcomer, m.id);
      options.takeOver({
        from: newcomer,
        id: m.id,
        now: at,
        transient: m.transient === 1,
        claim: reg.claim,
        agreementKey: m.xk,
      });
    },
  });
}
