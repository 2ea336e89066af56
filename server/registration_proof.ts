/**
 * What a registration (`reg`) must prove before the sessions act on it
 * (sessions.ts): for a claimed name, a signature over a fresh challenge
 * from the server (claims.ts; protocol/README.md, "Claimed names"); for any
 * other, the session's token from its own address, or a cookie that proves
 * the address answers (protocol/cookie.ts, a stateless round trip). What is
 * missing is asked for here (`retry` with a cookie, and a challenge for a
 * claimed name), and a refused claim is answered `claimed`.
 *
 * @module
 */
import { sameAddress } from "../protocol/address.ts";
import { checkCookie, makeCookie } from "../protocol/cookie.ts";
import type { Claims } from "./claims.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { Registration } from "./sessions.ts";
import type { ServerDropReason } from "./stats.ts";
import type { User } from "./user.ts";

/**
 * What a registration proved: `answered` (a `retry` or a refusal went
 * back: nothing more to do), or `proven`, with the claim key it proved (a
 * claimed name) and whether it carried the session's token from the
 * session's address.
 */
export type RegistrationProof =
  | { kind: "answered" }
  | { kind: "proven"; claim: string | undefined; tokenOk: boolean };

/** What {@linkcode proveRegistration} works with. */
export interface ProofOptions {
  /** The user registered under the name, if any. */
  existing: User | undefined;
  /** Claimed names and their challenges. */
  claims: Claims;
  /** The secret of this boot's cookies. */
  cookieKey: Uint8Array;
  /** Where answers go (the amplification guard). */
  responses: ResponseCache;
  /** Counts a refused or stale proof. */
  drop: (reason: ServerDropReason) => void;
  /** The current time (ms). */
  now: number;
}

/**
 * Checks what a registration proves, answering it if something is missing.
 *
 * @param reg The registration.
 * @param options The registered user, claims, cookie key and answers.
 * @returns What it proved, or that it was answered.
 */
export function proveRegistration(
  reg: Registration,
  options: ProofOptions,
): RegistrationProof {
  const { message: m, from, size } = reg;
  const { existing, claims, cookieKey, responses, drop, now } = options;
  const answered = { kind: "answered" } as const;
  // Claimed names (issue 14): a key, a fresh challenge and a signature.
  const claim = claims.check(reg, now);
  if (claim.kind === "refused") {
    drop("claim_refused");
    responses.respond(from, {
      t: "err",
      id: m.id,
      code: "claimed",
      name: m.name,
    }, { requestSize: size, now });
    return answered;
  }
  if (claim.kind === "challenge") {
    if (m.ch !== undefined) drop("stale_challenge");
    const ck = makeCookie(cookieKey, from, { now });
    const ch = claims.challenge({ to: from, name: m.name }, now);
    responses.answerOnce(from, { t: "retry", id: m.id, ck, ch }, {
      requestSize: size,
      now,
    });
    return answered;
  }
  const proven = claim.kind === "proven" ? claim.publicKey : undefined;
  const tokenOk = existing !== undefined && m.tok !== undefined &&
    m.tok === existing.token && sameAddress(existing.address, from);
  // A challenge answered from this address proves the address as a cookie does.
  if (
    !tokenOk && proven === undefined &&
    (m.ck === undefined || !checkCookie(cookieKey, from, { cookie: m.ck, now }))
  ) {
    if (m.ck !== undefined) drop("bad_cookie");
    const ck = makeCookie(cookieKey, from, { now });
    responses.answerOnce(from, { t: "retry", id: m.id, ck }, {
      requestSize: size,
      now,
    });
    return answered;
  }
  return { kind: "proven", claim: proven, tokenOk };
}
