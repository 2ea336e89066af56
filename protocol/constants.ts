/**
 * Limits and timings shared by the server and the client.
 *
 * @module
 */

/** Wire protocol version carried in every datagram as `v`. */
export const PROTOCOL_VERSION = 1;

/** Largest UDP payload udpchat sends or accepts, in bytes. */
export const MAX_DATAGRAM_BYTES = 1200;

/** Largest UDP payload the socket layer can receive (IPv4 maximum). */
export const MAX_UDP_PAYLOAD = 65507;

/** The seed's ACK window: a request or message unanswered this long has timed out. */
export const ACK_WINDOW_MS = 500;

/** How often a request to the server is retried after its first window (the seed's 5). */
export const SERVER_RETRIES = 5;

/** Smallest retransmission timeout inside an ACK window. */
export const MIN_RTO_MS = 20;

/** Largest retransmission timeout inside an ACK window. */
export const MAX_RTO_MS = 80;

/** Initial retransmission timeout before any round trip was measured. */
export const INITIAL_RTO_MS = 40;

/** Longest user name, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 32;

/** Longest chat message, in UTF-8 bytes; longer ones are refused before sending. */
export const MAX_MESSAGE_BYTES = 16384;

/** Largest text chunk carried by one datagram, in bytes of its JSON encoding. */
export const MAX_CHUNK_BYTES = 900;

/** Largest number of parts one message may be split into. */
export const MAX_PARTS = 64;

/** How long a seen datagram id is remembered for duplicate detection. */
export const DEDUP_WINDOW_MS = 30_000;

/** Tables with more rows than this print as a one-line summary. */
export const TABLE_PRINT_LIMIT = 30;

/** How long the server gathers table changes before it sends an update. */
export const TABLE_FLUSH_MS = 15;
