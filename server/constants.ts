/**
 * The server's named numbers: windows, limits and sizes its rules use, with
 * their units and the reason for each value. Timings shared with the client
 * live in `protocol/constants.ts`.
 *
 * @module
 */

/**
 * How long a table datagram or a notice may take to be ACKed, in ms. Not bound
 * by the seed's 500 ms window: a table transfer to a busy client, or a notice
 * to a sender on a lossy link, gets ten times as long before it is given up.
 */
export const BULK_WINDOW_MS = 5_000;

/**
 * Largest gap between retransmissions of bulk traffic (tables, notices), in
 * ms: with a 5 s window, backing off to 1 s keeps a busy client from being
 * flooded with copies.
 */
export const BULK_MAX_BACKOFF_MS = 1_000;

/**
 * How long the old session of a name gets to answer a duplicate-login probe,
 * in ms: short enough that the newcomer's request is answered within its
 * first 500 ms window.
 */
export const PING_WINDOW_MS = 300;

/**
 * Most table datagrams awaiting an ACK at once, over all clients: a
 * registration storm must not bury the server's answers, or its clients, in
 * table updates. Their ACKs come back at once, and a UDP socket's default
 * receive buffer (Deno cannot enlarge it: 208 KiB on Linux) holds about 256
 * small datagrams; with 1,024 the kernel dropped tens of thousands of ACKs in
 * a storm of 10,000 (bench/_rooms.ts counts the drops), each costing a
 * retransmission.
 */
export const TABLE_WINDOW = 128;

/**
 * Most table datagrams awaiting an ACK from one client: the rest of its
 * transfer follows as those are ACKed, so a snapshot of a big room (300
 * datagrams for 10,000 users) does not overflow the client's socket buffer.
 */
export const CLIENT_TABLE_WINDOW = 32;

/**
 * Least wait before the first retransmission of a table datagram, in ms: in a
 * storm the ACKs come back later than the chat's RTO (at most 80 ms), and
 * retransmitting at that pace more than doubled the table traffic.
 */
export const TABLE_MIN_TIMEOUT_MS = 250;

/**
 * Full snapshots sent again, in a row, to a client that ACKed none of them,
 * so that it never stays on a stale table just because nothing else changed.
 */
export const TABLE_SNAPSHOT_RETRIES = 3;

/**
 * Longest the server gathers table changes before sending them, in ms (the
 * shortest is `TABLE_FLUSH_MS`, 15 ms): in a storm of changes, fewer and
 * fuller datagrams.
 */
export const MAX_GATHER_MS = 500;

/**
 * Online users per millisecond of gathering: the gathering window grows by
 * 1 ms per 10 Online users (100 ms for 1,000), up to {@linkcode MAX_GATHER_MS}.
 */
export const USERS_PER_GATHER_MS = 10;

/**
 * Table changes the change log keeps before trimming, in entries; a client
 * whose last ACKed version fell out of it gets a full snapshot.
 */
export const CHANGE_LOG_MAX = 65_536;

/** Oldest entries dropped from the change log when it is full. */
export const CHANGE_LOG_TRIM = 32_768;

/**
 * Fewest changed rows for which a full snapshot may replace a delta: below
 * this a delta is always sent; above it, only while it is at most half the
 * table.
 */
export const DELTA_MIN_ROWS = 64;

/**
 * Most message deliveries awaiting an ACK at once: a group message to a big
 * room goes out in waves, each recipient's 500 ms window starting when its
 * turn comes; all at once, their ACKs came back after the retransmission
 * timeout and the copies buried the server. Half the ~256 small datagrams
 * the server's receive buffer holds, so that its ACKs, with the requests
 * arriving meanwhile, never overflow it (at 256 the kernel still dropped
 * thousands of ACKs of a `send_all` to 10,000).
 */
export const DELIVERY_WINDOW = 128;

/**
 * Least wait before the first retransmission of a delivery (a relayed
 * message, in the seed's 500 ms window), in ms; later ones follow every
 * 80 ms at most, so a lost datagram still gets five tries in the window. In a
 * `send_all` to 10,000 the ACKs of a full window come back later than the
 * chat's RTO (20 to 80 ms): 42% of the deliveries were sent twice, which
 * doubled the fan-out's time (1.0 s; 0.38 to 0.56 s without them). Only
 * while at least {@linkcode DELIVERY_BUSY_PENDING} datagrams await an ACK:
 * a quiet server retransmits at the chat's RTO, as before.
 */
export const DELIVERY_MIN_TIMEOUT_MS = 100;

/**
 * Datagrams awaiting an ACK (over all kinds) from which a delivery's first
 * retransmission waits {@linkcode DELIVERY_MIN_TIMEOUT_MS}: half a delivery
 * window, as in a `send_all` to a big room.
 */
export const DELIVERY_BUSY_PENDING = 64;

/** Notices kept per Offline user until it is back; later ones are dropped. */
export const MAX_HELD_NOTICES = 100;

/** Windows a notice to an Online sender gets after its first, before it is dropped. */
export const NOTICE_RETRIES = 3;

/**
 * Answers the response cache keeps, in entries (each lives 30 s, the
 * duplicate-detection window): enough for every user of a full server to
 * have one request in flight.
 */
export const RESPONSE_CACHE_CAPACITY = 200_000;

/**
 * Largest answer to an address that has not proven it receives, as a multiple
 * of the request's size, as QUIC limits a server before address validation
 * (RFC 9000 §8.1): the server cannot be used to amplify a spoofed flood.
 */
export const AMPLIFICATION_FACTOR = 3;

/** Secret key of the address-validation cookies, in bytes. */
export const COOKIE_KEY_BYTES = 32;

/** Random bytes of a session token (128 bits, sent as 32 hex digits). */
export const TOKEN_BYTES = 16;

/** Random bytes of the server's boot id (sent as 8 hex digits). */
export const BOOT_ID_BYTES = 4;

/**
 * Random bytes drawn to seed datagram ids: three are used, spread by
 * {@linkcode ID_SEED_SPREAD}, so that ids of two server runs rarely meet.
 */
export const ID_SEED_BYTES = 4;

/** Multiplier of the random id seed: the first id is `seed × 64 + 1`. */
export const ID_SEED_SPREAD = 64;
