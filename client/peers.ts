/**
 * Private messages peer to peer: one message at a time per recipient (which
 * keeps them in order), each part retransmitted inside the 500 ms ACK
 * window; with no ACK in time, the recipient is taken as unreachable and its
 * messages go through the server instead, which delivers or saves them
 * (`SEMANTICS.md`, "send NAME MESSAGE").
 *
 * "Received" means shown (issue 13): a peer ACKs a part it took but did not
 * show with `r: "held"`; a message is received once every part is ACKed and
 * one ACK was plain (the part that completed it, ACKed after it was shown).
 * One whose parts were all ACKed `held` was refused by a live peer: it goes
 * through the server, as one that was not ACKed.
 *
 * @module
 */
import { type Address, sameAddress } from "../protocol/address.ts";
import { encodeMessage } from "../protocol/codec.ts";
import type { TextPart } from "../protocol/messages.ts";
import { splitText } from "../protocol/text.ts";
import { toParts } from "./text_parts.ts";
import type { ClientContext } from "./context.ts";
import type { Receipts } from "./receipts.ts";
import type { ServerRequests } from "./server_requests.ts";
import type { TableReplica } from "./table_replica.ts";

/** A private message and its recipient. */
export interface PrivateMessage {
  /** The recipient's name. */
  to: string;
  /** Its parts, under one message key (in plaintext until sealed). */
  parts: readonly TextPart[];
  /** The whole text, sealed to the recipient's key before it leaves. */
  text: string;
}

interface PeerSend extends PrivateMessage {
  /** The recipient key its parts are sealed to, once sealed. */
  sealedTo?: string;
  partsLeft: number;
  ids: number[];
  /** Where its parts went. */
  address?: Address;
  /** Whether a plain ACK (not `held`) said the message was shown. */
  shown: boolean;
  /** Part ids whose next ACK said `held`. */
  held: Set<number>;
}

/** The parts a {@linkcode Peers} works with. */
export interface PeersOptions {
  /** Where recipients' addresses come from. */
  table: TableReplica;
  /** The fallback to the server. */
  requests: ServerRequests;
  /** Where outcomes go. */
  receipts: Receipts;
}

/** The per-recipient queues of private messages. */
export class Peers {
  #ctx: ClientContext;
  #parts: PeersOptions;
  #queues = new Map<string, PeerSend[]>();
  #inFlight = new Map<string, PeerSend>();
  // Online in the table but did not ACK in time: the server carries their
  // messages until the table says something new about them.
  #unreachable = new Set<string>();

  /**
   * Makes the queues, all empty.
   *
   * @param ctx The client's shared state.
   * @param parts The table, the server requests and the receipts.
   */
  constructor(ctx: ClientContext, parts: PeersOptions) {
    this.#ctx = ctx;
    this.#parts = parts;
  }

  /** Whether no message is under way to a peer. */
  get idle(): boolean {
    return this.#inFlight.size === 0 && this.#queues.size === 0;
  }

  /**
   * Sends a private message: straight to the recipient when it is Online in
   * the table and reachable, otherwise through the server.
   */
  send(message: PrivateMessage, now: number): void {
    const send: PeerSend = {
      ...message,
      partsLeft: 0,
      ids: [],
      shown: false,
      held: new Set(),
    };
    const table = this.#parts.table;
    if (table.needsLookup(send.to) && table.lookup(send.to, now)) {
      // A big room: the row is learned first; the message waits in its queue.
      return this.#enqueue(send, now);
    }
    if (!this.#reachable(message.to)) {
      // Not in our table (perhaps it is behind): the server knows, and says so.
      return this.#viaServer(send, now);
    }
    this.#enqueue(send, now);
  }

  #enqueue(send: PeerSend, now: number): void {
    const queue = this.#queues.get(send.to) ?? [];
    queue.push(send);
    this.#queues.set(send.to, queue);
    this.#pump(send.to, now);
  }

  /**
   * The next ACK of part `id` says `held` (call before the retransmitter
   * matches it): the peer took the part but did not show its message.
   */
  held(id: number, from: Address): void {
    for (const send of this.#inFlight.values()) {
      if (
        send.ids.includes(id) && send.address !== undefined &&
        sameAddress(send.address, from)
      ) {
        send.held.add(id);
      }
    }
  }

  /** After a table change: queued messages to peers now Offline go through the server. */
  retryQueued(now: number): void {
    for (const [to, queue] of this.#queues) {
      if (this.#inFlight.has(to)) continue;
      if (queue.length > 0) this.#pump(to, now);
    }
  }

  /** A new registration: every peer is worth trying directly again. */
  forgetUnreachable(): void {
    this.#unreachable.clear();
  }

  /** The table says something new about `name`: try it directly again. */
  rowChanged(name: string): void {
    this.#unreachable.delete(name);
  }

  #reachable(name: string): boolean {
    return this.#parts.table.row(name)?.[3] === 1 &&
      !this.#unreachable.has(name);
  }

  // A peer Online in the table that did not ACK us directly: its messages go
  // through the server (in order), which says whether it was received. It is
  // still a send to an Online user, and is printed as one.
  #viaServer(send: PeerSend, now: number): void {
    this.#seal(send);
    if (this.#parts.table.row(send.to)?.[3] === 1) {
      this.#ctx.emit({ type: "sent", to: send.to });
    }
    this.#parts.requests.save(send, now);
  }

  // One message at a time per recipient keeps them in order.
  #pump(to: string, now: number): void {
    if (this.#inFlight.has(to) || this.#parts.table.lookingUp(to)) return;
    const queue = this.#queues.get(to);
    const send = queue?.shift();
    if (send === undefined) return;
    if (queue!.length === 0) this.#queues.delete(to);
    const row = this.#parts.table.row(to);
    if (row === undefined || !this.#reachable(to)) {
      this.#viaServer(send, now);
      return this.#pump(to, now);
    }
    const ctx = this.#ctx;
    this.#seal(send);
    const address = { hostname: row[1], port: row[2] };
    this.#inFlight.set(to, send);
    send.address = address;
    send.partsLeft = send.parts.length;
    ctx.emit({ type: "sent", to });
    send.ids = send.parts.map((part) => {
      const id = ctx.nextId();
      const m = { t: "msg", id, from: ctx.name, g: 0, ...part } as const;
      ctx.retransmitter.send(
        { id, to: address, bytes: encodeMessage(m) },
        now,
        {
          onAck: (ack) => this.#acked(send, { id, now: ack.now }),
          onExpire: (at) => this.#expired(send, at),
        },
      );
      return id;
    });
  }

  // Seals the message to the key its recipient's row gives (issue 14), once
  // (again only if that key changed): the same ciphertext goes peer to peer
  // and through the server. A recipient that published no key (an old
  // client), or an unclaimed one that is Offline, gets plain text; a sealed
  // message is never sent plain.
  #seal(send: PeerSend): void {
    const ctx = this.#ctx;
    const row = this.#parts.table.row(send.to);
    const key = row?.[4];
    if (key === undefined || send.sealedTo === key) return;
    if (ctx.agreement === undefined) return;
    // An unclaimed user's key lives as long as its process: what is saved
    // for it while it is Offline must still be readable by the process it
    // comes back with, so it goes plain (protocol/README.md, "Threat
    // model"). A claimed user's key comes from its passphrase: always sealed.
    if (send.sealedTo === undefined && row![3] === 0 && row![5] !== 1) return;
    const k = send.parts[0].k;
    const sealed = ctx.agreement.seal(send.text, {
      to: key,
      context: { from: ctx.name, to: send.to, k },
      nonce: ctx.random(12),
    });
    if (sealed === undefined) return;
    send.parts = toParts(k, splitText(sealed)).map((part) => ({
      ...part,
      e: 1,
    }));
    send.sealedTo = key;
  }

  #acked(send: PeerSend, ack: { id: number; now: number }): void {
    const { id, now } = ack;
    if (!send.held.has(id)) send.shown = true;
    if (--send.partsLeft > 0) return;
    this.#inFlight.delete(send.to);
    if (!send.shown) {
      // Every part arrived, the message was not shown: the server carries it.
      this.#parts.requests.save(send, now);
      return this.#pump(send.to, now);
    }
    this.#unreachable.delete(send.to);
    this.#parts.receipts.finish(send.parts[0].k, "delivered");
    this.#ctx.emit({ type: "received", by: send.to });
    this.#pump(send.to, now);
  }

  #expired(send: PeerSend, now: number): void {
    if (this.#ctx.exit !== undefined) return;
    if (this.#inFlight.get(send.to) !== send) return;
    for (const id of send.ids) this.#ctx.retransmitter.cancel(id);
    this.#inFlight.delete(send.to);
    // No ACK in the window: the server tries, or saves it.
    this.#unreachable.add(send.to);
    this.#parts.requests.save(send, now);
    this.#pump(send.to, now);
  }
}
