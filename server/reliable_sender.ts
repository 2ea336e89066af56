/**
 * How the server sends a message reliably: a fresh id, the ACK window its
 * kind gets, and the rule that a table change is never overtaken by what it
 * caused (pending table changes go out first). Chat text is split into parts
 * under the datagram limit here, in one place.
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import { encodeMessage } from "../protocol/codec.ts";
import { ACK_WINDOW_MS } from "../protocol/constants.ts";
import type { ChatMessage, Message } from "../protocol/messages.ts";
import type { AckInfo, Retransmitter } from "../protocol/reliable.ts";
import { splitText } from "../protocol/text.ts";
import {
  BULK_MAX_BACKOFF_MS,
  BULK_WINDOW_MS,
  DELIVERY_BUSY_PENDING,
  DELIVERY_MIN_TIMEOUT_MS,
  PING_WINDOW_MS,
} from "./constants.ts";
import type { DatagramIds } from "./ids.ts";

/**
 * How long a reliable message may take to be ACKed:
 *
 * - `chat`: the seed's 500 ms window (a delivery);
 * - `bulk`: 5 s with backoff up to 1 s (a notice);
 * - `probe`: 300 ms, so a duplicate-login probe is decided within the
 *   newcomer's first window.
 */
export type ReliableWindow = "chat" | "bulk" | "probe";

/** Options for {@linkcode ReliableSender.send}. */
export interface ReliableSendOptions {
  /** The current time (ms). */
  now: number;
  /** The ACK window the message gets. */
  window: ReliableWindow;
  /** Runs when the ACK arrives. */
  onAck?: (ack: AckInfo) => void;
  /** Runs when the window passes without an ACK, with the time (ms). */
  onExpire?: (now: number) => void;
}

/** A chat message to send in parts: every field of `msg` but the part's. */
export interface ChatText {
  /** The sender's name. */
  from: string;
  /** Whether it is a group message. */
  group: boolean;
  /** The sender's message key. */
  messageKey: string;
  /** A private message sealed to its recipient (sent with `e: 1`). */
  sealed?: boolean;
  /** The whole text. */
  text: string;
  /** For a stored message: when it was saved, `YYYY-MM-DD HH:MM:SS`. */
  savedAt?: string;
  /** For a stored message: its 1-based position in the offline list. */
  listIndex?: number;
}

/** What the sender needs from the rest of the server. */
export interface ReliableSenderOptions {
  /** Tracks what awaits an ACK. */
  retransmitter: Retransmitter;
  /** Where ids come from. */
  ids: DatagramIds;
  /** Sends pending table changes at once, before what they caused. */
  flushTable: (now: number) => void;
}

/** Sends the server's reliable messages other than table parts. */
export class ReliableSender {
  #options: ReliableSenderOptions;

  /** @param options The retransmitter, the ids and the table flush. */
  constructor(options: ReliableSenderOptions) {
    this.#options = options;
  }

  /**
   * Sends a message with a fresh id (its `id` field is set).
   *
   * @returns The id.
   */
  send(to: Address, message: Message, options: ReliableSendOptions): number {
    this.#options.flushTable(options.now);
    message.id = this.#options.ids.next();
    this.resend(to, message, options);
    return message.id;
  }

  /**
   * Sends a message again with its id (shown once by the receiver), in a new
   * window.
   */
  resend(to: Address, message: Message, options: ReliableSendOptions): void {
    const { now, window } = options;
    this.#options.retransmitter.send(
      { id: message.id, to, bytes: encodeMessage(message) },
      now,
      {
        deadline: now +
          (window === "bulk"
            ? BULK_WINDOW_MS
            : window === "probe"
            ? PING_WINDOW_MS
            : ACK_WINDOW_MS),
        maxBackoff: window === "bulk" ? BULK_MAX_BACKOFF_MS : undefined,
        // Behind a busy window, ACKs come back later than the chat's RTO.
        minTimeout: window === "chat" &&
            this.#options.retransmitter.size >= DELIVERY_BUSY_PENDING
          ? DELIVERY_MIN_TIMEOUT_MS
          : undefined,
        onAck: options.onAck,
        onExpire: options.onExpire,
      },
    );
  }

  /** Forgets a message awaiting its ACK; neither of its handlers runs. */
  cancel(id: number): void {
    this.#options.retransmitter.cancel(id);
  }

  /**
   * Splits a chat text into parts that fit a datagram and sends each in the
   * chat window, every part with the same handlers.
   *
   * @returns The parts' ids, in order.
   */
  sendText(
    to: Address,
    chat: ChatText,
    options: Omit<ReliableSendOptions, "window"> & {
      /** Runs when a part's ACK arrives, with that part's id. */
      onPartAck?: (ack: AckInfo, id: number) => void;
    },
  ): number[] {
    const parts = splitText(chat.text);
    return parts.map((text, pi) => {
      const message: ChatMessage = {
        t: "msg",
        id: 0,
        from: chat.from,
        g: chat.group ? 1 : 0,
        k: chat.messageKey,
        pi,
        pn: parts.length,
        text,
      };
      if (chat.sealed === true) message.e = 1;
      if (chat.savedAt !== undefined) message.at = chat.savedAt;
      if (chat.listIndex !== undefined) message.o = chat.listIndex;
      const { onPartAck, ...rest } = options;
      const onAck = onPartAck === undefined
        ? rest.onAck
        : (ack: AckInfo) => onPartAck(ack, message.id);
      return this.send(to, message, { ...rest, onAck, window: "chat" });
    });
  }
}
