/**
 * What the client's parts share: who this client is, the one outbox and
 * retransmitter, fresh ids and message keys, the phase, and what it reports
 * (events, drops, outcomes, the decision to exit).
 *
 * @module
 */
import type { ClaimKey } from "../protocol/claim.ts";
import type { AgreementKey } from "../protocol/e2e_crypto.ts";
import type { Address } from "../protocol/address.ts";
import { encodeMessage } from "../protocol/codec.ts";
import { Outbox } from "../protocol/machine.ts";
import { Retransmitter } from "../protocol/reliable.ts";
import type {
  ClientDropReason,
  ClientEvent,
  ClientExit,
  ClientExitReason,
  ClientPhase,
  Outcomes,
} from "./events.ts";

/** Options for the client: {@linkcode ClientContext} and `ClientState`. */
export interface ClientOptions {
  /** This user's name. */
  name: string;
  /** The server's address (an IP literal). */
  server: Address;
  /**
   * Other nodes of the same chat (`--failover`), tried in order when the
   * server stops answering; the session (its token) is valid on every node
   * of a NATS-backed chat.
   */
  failover?: readonly Address[];
  /** Random bytes, for the session nonce, the first request id and jitter. */
  random: (length: number) => Uint8Array;
  /**
   * The keepalive interval's middle, in ms (default 20,000: each interval is
   * 15 to 25 s). Tests and the `--keepalive` option shorten it.
   */
  keepaliveMs?: number;
  /**
   * A transient session (`--exec`): its registrations say so, and the server
   * removes its row when it leaves instead of keeping it Offline.
   */
  transient?: boolean;
  /**
   * A claimed name's signing key (`--claim`, issue 14), derived from the
   * passphrase by the adapter: registrations and `dereg` are signed with it.
   */
  claim?: ClaimKey;
  /**
   * This client's X25519 key (issue 14), published at registration (`xk`);
   * private messages to this client are sealed to it, and it seals those it
   * sends to peers that published one. The adapter always gives one:
   * derived from the passphrase with `--claim`, otherwise fresh for the
   * session. Without it the core behaves as a client that predates
   * encryption (plain text, no `xk`).
   */
  agreement?: AgreementKey;
}

/**
 * The state every part of the client reads or reports to. One per client.
 *
 * @example Usage
 * ```ts
 * import { ClientContext } from "./context.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const ctx = new ClientContext({
 *   name: "userA",
 *   server: { hostname: "127.0.0.1", port: 5000 },
 *   random: (n) => new Uint8Array(n),
 * });
 * assertEquals(ctx.nextKey(), "userA:0000000000:1");
 * ctx.emit({ type: "group_ack" });
 * assertEquals(ctx.takeEvents(), [{ type: "group_ack" }]);
 * ```
 */
export class ClientContext {
  /** This user's name. */
  readonly name: string;
  /** Every server this client may use: the first, then `--failover` ones. */
  readonly servers: readonly Address[];
  /** Whether this session is transient (see {@linkcode ClientOptions}). */
  readonly transient: boolean;
  /** The claimed name's signing key, if `--claim`. */
  readonly claim: ClaimKey | undefined;
  /** This client's X25519 key, if it has one: sealed messages open with it. */
  readonly agreement: AgreementKey | undefined;
  /** Random bytes (nonces of sealed messages). */
  readonly random: (length: number) => Uint8Array;
  /** The datagrams to send, in the order they were made. */
  readonly out: Outbox = new Outbox();
  /** Retransmits every reliable datagram until its ACK or its deadline. */
  readonly retransmitter: Retransmitter;
  /** Counts of what became of this client's messages. */
  readonly outcomes: Outcomes = { delivered: 0, saved: 0, refused: 0 };
  /** Dropped datagrams by reason. */
  readonly dropped: Partial<Record<ClientDropReason, number>> = {};
  /** Where the client is in its life. */
  phase: ClientPhase = "registering";
  #exit: ClientExit | undefined;
  #serverIndex = 0;
  #failedInRow = 0;
  #events: ClientEvent[] = [];
  #nextId: number;
  // `name:session:`, the session a random nonce: message keys are unique
  // across this user's runs, so receivers never take a new message for a copy.
  #keyPrefix: string;
  #seq = 0;

  /**
   * Makes the shared state of a new client: phase `registering`, the
   * first id and the session nonce drawn from the random bytes.
   *
   * @param options Name, server address and randomness.
   */
  constructor(options: ClientOptions) {
    this.name = options.name.normalize("NFC");
    this.servers = [options.server, ...(options.failover ?? [])];
    this.transient = options.transient ?? false;
    this.claim = options.claim;
    this.retransmitter = new Retransmitter(this.out);
    const r = options.random(8);
    this.#nextId = ((r[0] << 16) | (r[1] << 8) | r[2]) * 64 + 1;
    const session = [...r.subarray(3, 8)].map((b) =>
      b.toString(16).padStart(2, "0")
    ).join("");
    this.#keyPrefix = `${this.name}:${session}:`;
    this.random = options.random;
    this.agreement = options.agreement;
  }

  /** The server in use now. */
  get server(): Address {
    return this.servers[this.#serverIndex];
  }

  /**
   * Moves to the next server after this one stopped answering.
   *
   * @returns The new server, or `undefined` when every server has failed
   * since one last answered (the client then gives up).
   */
  switchServer(): Address | undefined {
    if (++this.#failedInRow >= this.servers.length) return undefined;
    this.#serverIndex = (this.#serverIndex + 1) % this.servers.length;
    return this.server;
  }

  /**
   * Moves to the next server because keepalives went unanswered. Unlike
   * {@linkcode switchServer} this does not count toward giving up: lost
   * keepalives are not retried, so only a request that went unanswered
   * through its retries says a server is gone (a server left because a few
   * keepalives were lost is tried again before the client exits).
   *
   * @returns The new server.
   */
  nextServer(): Address {
    this.#serverIndex = (this.#serverIndex + 1) % this.servers.length;
    return this.server;
  }

  /** The server in use answered: every server may be tried again. */
  serverAnswered(): void {
    this.#failedInRow = 0;
  }

  /** The decision to exit, once made. */
  get exit(): ClientExit | undefined {
    return this.#exit;
  }

  /** A fresh datagram id. */
  nextId(): number {
    return this.#nextId++;
  }

  /** A fresh message key (`name:session:seq`). */
  nextKey(): string {
    return `${this.#keyPrefix}${++this.#seq}`;
  }

  /** Reports an event to show. */
  emit(event: ClientEvent): void {
    this.#events.push(event);
  }

  /** Takes the events reported so far. */
  takeEvents(): ClientEvent[] {
    return this.#events.splice(0);
  }

  /** Counts a dropped datagram. */
  drop(reason: ClientDropReason): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  /** Queues the ACK of a reliable datagram. */
  sendAck(id: number, to: Address): void {
    this.out.push({ to, bytes: encodeMessage({ t: "ack", id }) });
  }

  /** Decides to exit: nothing more is handled. */
  exitWith(reason: ClientExitReason): void {
    this.phase = "exited";
    this.#exit = { type: "exit", reason };
  }
}
