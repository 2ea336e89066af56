/**
 * The client core's own limits and timings. Those it shares with the server
 * (the 500 ms ACK window, the 5 retries, message and datagram sizes) are in
 * `protocol/constants.ts`.
 *
 * @module
 */

/**
 * How long after a welcome the table may take to arrive before the client
 * asks for it with a `sync`, in milliseconds: four ACK windows, room for a
 * table of many datagrams on a lossy link without asking twice.
 */
export const TABLE_WAIT_MS = 2_000;

/**
 * Most datagram ids remembered to recognise retransmissions, in entries
 * (each lives for `DEDUP_WINDOW_MS`, 30 s). Bounds memory against a peer
 * that floods fresh ids.
 */
export const SEEN_IDS_CAPACITY = 100_000;

/**
 * How long a message key or a server notice is remembered, in milliseconds
 * (one hour): the server sends one again, under a new id, when it was kept
 * for this client while it was Offline, and it must show once.
 */
export const SEEN_KEYS_TTL_MS = 3_600_000;

/** Most message keys, and most notices, remembered, in entries. */
export const SEEN_KEYS_CAPACITY = 100_000;

/**
 * Most text held in half-reassembled messages, in UTF-16 code units (1 Mi):
 * 64 of the largest messages (16 KiB) arriving at once. Past it, parts are
 * refused and their senders retransmit later.
 */
export const REASSEMBLY_MAX_BUFFERED = 1 << 20;

/**
 * Datagrams a peer (any source but the server) may send at once before its
 * rate applies: a 64-part message from each of several peers.
 */
export const PEER_BURST = 500;

/**
 * Datagrams per second a peer may send after its burst; the rest are
 * dropped (`rate`) so a flooding source cannot starve the others.
 */
export const PEER_RATE_PER_SECOND = 2_000;

/**
 * The keepalive interval's middle, in milliseconds (20 s): each interval is
 * drawn between 0.75 and 1.25 times it (15 to 25 s), so that clients started
 * together do not keep time together. Short enough for a NAT's UDP mapping
 * (RFC 4787 REQ-5 asks at least 2 minutes, many keep 30 s) and for a client
 * to notice a restarted server within one interval.
 */
export const KEEPALIVE_INTERVAL_MS = 20_000;

/** The spread of each keepalive interval around its middle: ±25 %. */
export const KEEPALIVE_JITTER = 0.25;
