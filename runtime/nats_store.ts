/**
 * The offline store on NATS JetStream: the adapter that answers the server
 * core's {@linkcode StoreRequest}s (see `server/store.ts`) with a durable
 * JetStream stream, plus a users KV bucket with compare-and-set registration.
 *
 * The NATS client libraries (`@nats-io/transport-node`, `@nats-io/jetstream`,
 * `@nats-io/kv`) are loaded by dynamic `import()` inside
 * {@linkcode openNatsStore} only, so a server that keeps the in-memory store
 * loads no dependency. They need `--allow-net` and nothing else.
 *
 * Layout in JetStream:
 *
 * - Stream `UDPCHAT_OFFLINE`, subjects `udpchat.offline.>`, file storage: one
 *   message per saved copy, on subject `udpchat.offline.<token>` where the
 *   token is the recipient's name as unpadded base64url of its UTF-8
 *   ({@linkcode recipientToken}), since names may hold any Unicode letter but
 *   a subject token may not hold `.`, `*`, `>` or white space. The payload is
 *   the {@linkcode StoredMessage} as JSON; the header `Nats-Msg-Id` is the
 *   message's id, so a repeated save is stored once (JetStream's duplicate
 *   window, two minutes).
 * - KV bucket `udpchat_users`: one key per user name (same base64url token),
 *   created with compare-and-set ({@linkcode NatsStore.claimName}) and
 *   updated against its revision ({@linkcode NatsStore.updateUser}); the
 *   user records of server/user_records.ts, by runtime/nats_users.ts.
 * - Stream `UDPCHAT_JOURNAL`, subjects `udpchat.journal.>`, file storage, the
 *   same replicas: one message per {@linkcode JournalEntry} (a group message
 *   being fanned out, server/journal.ts) on subject `udpchat.journal.<id>`
 *   (the id is `<hex boot id>-<sequence>`, a valid token), `Nats-Msg-Id` its
 *   id; purged on `unjournal`. A node that takes the lead reads it with
 *   {@linkcode NatsStore.loadJournal}. Recovered copies have deterministic
 *   ids (`<entry id>.<index>`), so two leaders recovering the same entry
 *   within the duplicate window store one copy.
 *
 * Limits ({@linkcode StoreLimits}) are enforced twice:
 *
 * - by this adapter, exactly as the in-memory store does (messages and UTF-16
 *   code units of text, per recipient and in total), over every message it
 *   knows: those loaded when it opened plus its own saves and deletes;
 * - by JetStream itself for the counts (`max_msgs` = `total`,
 *   `max_msgs_per_subject` = `perUser`, `discard: new`,
 *   `discard_new_per_subject`), which also holds across several server nodes
 *   sharing the stream. Text sizes are only counted by the adapter: with
 *   several nodes, each node counts what it loaded and saved itself.
 *
 * A write is answered `saved` only after JetStream's publish ACK. While the
 * connection is down, requests are answered `unavailable` at once; a publish
 * whose ACK does not come within the timeout (2 s by default) is answered
 * `unavailable` and then retracted in the background (published again with
 * the same `Nats-Msg-Id`, which JetStream deduplicates, then deleted), so a
 * message whose sender was told "not saved" does not turn up later.
 *
 * @module
 */

import type {
  JournalEntry,
  StoredMessage,
  StoreLimits,
  StoreRequest,
  StoreResult,
} from "../server/store.ts";

export type {
  JournalEntry,
  StoredMessage,
  StoreLimits,
  StoreRefusal,
  StoreRequest,
  StoreResult,
} from "../server/store.ts";
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";

/** The default stream of saved messages. */
export const DEFAULT_STREAM = "UDPCHAT_OFFLINE";
/** The default subject prefix: a message for NAME goes to `<prefix>.<token>`. */
export const DEFAULT_SUBJECT_PREFIX = "udpchat.offline";
/** The default stream of journal entries (group messages in flight). */
export const DEFAULT_JOURNAL_STREAM = "UDPCHAT_JOURNAL";
/** The default journal subject prefix: entry ID goes to `<prefix>.<ID>`. */
export const DEFAULT_JOURNAL_PREFIX = "udpchat.journal";
/** The default KV bucket of users. */
export const DEFAULT_USERS_BUCKET = "udpchat_users";
/** The default time to wait for a JetStream ACK or API answer, in ms. */
export const DEFAULT_TIMEOUT_MS = 2_000;
/**
 * The key of the chat's identity (server/chat_identity.ts) in the users
 * bucket: it has a dot, so no name's key (base64url) is ever this one.
 */
export const CHAT_IDENTITY_KEY = "chat.identity";

/** Options of {@linkcode openNatsStore}. */
export interface NatsStoreOptions {
  /** The store's limits, as for the in-memory store. */
  limits: StoreLimits;
  /** Stream name; default {@linkcode DEFAULT_STREAM}. */
  stream?: string;
  /** Subject prefix; default {@linkcode DEFAULT_SUBJECT_PREFIX}. */
  subjectPrefix?: string;
  /** Journal stream name; default {@linkcode DEFAULT_JOURNAL_STREAM}. */
  journalStream?: string;
  /** Journal subject prefix; default {@linkcode DEFAULT_JOURNAL_PREFIX}. */
  journalPrefix?: string;
  /** Users KV bucket; default {@linkcode DEFAULT_USERS_BUCKET}. */
  usersBucket?: string;
  /**
   * Copies JetStream keeps of the stream and the bucket: 1 for one
   * nats-server, 3 for a three-node cluster (survives the loss of one node).
   * Default 1.
   */
  replicas?: number;
  /**
   * Most time to wait for a publish ACK or a JetStream API answer, and for
   * the first connection, in milliseconds; default
   * {@linkcode DEFAULT_TIMEOUT_MS}.
   */
  timeoutMs?: number;
  /** Connection name shown by the NATS server's monitoring; default `udpchat`. */
  name?: string;
}

/**
 * The connection's state as reported to {@linkcode NatsStore.onStatus}:
 * `connected` (the state when subscribing, while connected),
 * `disconnected` (the connection is lost; the client keeps reconnecting),
 * `reconnected` (back after a loss).
 */
export type NatsStoreStatus = "connected" | "disconnected" | "reconnected";

/** A user record in the KV bucket with its revision (for compare-and-set). */
export interface UserEntry<T> {
  /** The record as saved (JSON). */
  record: T;
  /** The KV revision; pass it to {@linkcode NatsStore.updateUser}. */
  revision: number;
}

/**
 * Outcome of {@linkcode NatsStore.claimName}: `claimed` with the new
 * revision, `taken` when the name already has a record, or `unavailable`
 * when NATS did not answer.
 */
export type ClaimResult =
  | { outcome: "claimed"; revision: number }
  | { outcome: "taken" }
  | { outcome: "unavailable" };

export { parseNatsUrls } from "./nats_urls.ts";

/**
 * The subject (and KV key) token for a user name: unpadded base64url of its
 * UTF-8, so any Unicode name makes a valid, distinct token.
 */
export function recipientToken(name: string): string {
  const bytes = new TextEncoder().encode(name);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

/**
 * Connects to NATS (reconnecting forever after a loss), makes sure the stream
 * and the users bucket exist with the given limits and replicas, and reads
 * every saved message once (to learn ids, sequences and sizes; the first
 * {@linkcode NatsStore.loadAll} returns that read).
 *
 * @param urls NATS server URLs, for example from {@linkcode parseNatsUrls}.
 * @param options Limits and names.
 * @throws when the first connection or the set-up fails (NATS unreachable,
 *   JetStream not enabled, a stream with other subjects under that name).
 */
export function openNatsStore(
  urls: string[],
  options: NatsStoreOptions,
): Promise<NatsStore> {
  return NatsStore.open(urls, options);
}

interface Parts {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
  stream: string;
  prefix: string;
  journalStream: string;
  journalPrefix: string;
  limits: StoreLimits;
  timeout: number;
  apiErrorCode: (error: unknown) => number | undefined;
}

interface Entry {
  seq: number;
  to: string;
  size: number;
}

interface Usage {
  count: number;
  size: number;
}

/** JetStream's error code for "no message found" (an already deleted sequence). */
const NO_MESSAGE_FOUND = 10037;
/** JetStream's error code for a failed compare-and-set (wrong last sequence). */
const WRONG_LAST_SEQUENCE = 10071;
/** Attempts to read the whole stream before giving up. */
const SCAN_ATTEMPTS = 5;
/** Pause between attempts to retract an unconfirmed save, in ms. */
const RETRACT_RETRY_MS = 1_000;

/**
 * The offline store on JetStream. Get one with {@linkcode openNatsStore};
 * {@linkcode NatsStore.close} it when done. Requests may be applied
 * concurrently; each answer says what JetStream did, never more.
 */
export class NatsStore {
  #initial: StoredMessage[] | undefined;
  #p: Parts;
  #entries = new Map<string, Entry>();
  #usage = new Map<string, Usage>();
  #total: Usage = { count: 0, size: 0 };
  #connected = true;
  #closed = false;
  #listeners = new Set<(status: NatsStoreStatus) => void>();
  #statusLoop: Promise<void>;
  #retractions = new Map<string, StoredMessage>();
  #retractLoop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #settledWaiters: (() => void)[] = [];

  /**
   * Same as {@linkcode openNatsStore}.
   *
   * @param urls NATS server URLs.
   * @param options Limits and names.
   */
  static async open(
    urls: string[],
    options: NatsStoreOptions,
  ): Promise<NatsStore> {
    const [transport, jetstreamModule, kvModule] = await Promise.all([
      import("@nats-io/transport-node"),
      import("@nats-io/jetstream"),
      import("@nats-io/kv"),
    ]);
    const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const nc = await transport.connect({
      servers: urls,
      name: options.name ?? "udpchat",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 5_000,
      maxPingOut: 2,
      timeout,
    });
    let store: NatsStore | undefined;
    try {
      const js = jetstreamModule.jetstream(nc, { timeout });
      const jsm = await jetstreamModule.jetstreamManager(nc, { timeout });
      const stream = options.stream ?? DEFAULT_STREAM;
      const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
      const replicas = options.replicas ?? 1;
      const { DiscardPolicy, RetentionPolicy, StorageType } = jetstreamModule;
      const config: {
        subjects: string[];
        discard: typeof DiscardPolicy.New;
        discard_new_per_subject?: boolean;
        max_msgs: number;
        max_msgs_per_subject: number;
        num_replicas: number;
        duplicate_window: number;
      } = {
        subjects: [`${prefix}.>`],
        discard: DiscardPolicy.New,
        discard_new_per_subject: true,
        max_msgs: options.limits.total,
        max_msgs_per_subject: options.limits.perUser,
        num_replicas: replicas,
        duplicate_window: 120 * 1e9,
      };
      // Each stream is made, or brought to this configuration if it exists.
      const ensure = async (name: string, settings: typeof config) => {
        try {
          await jsm.streams.info(name);
          await jsm.streams.update(name, settings);
        } catch (error) {
          const notFound = error instanceof jetstreamModule.JetStreamApiError &&
            error.code === jetstreamModule.JetStreamApiCodes.StreamNotFound;
          if (!notFound) throw error;
          await jsm.streams.add({
            name,
            storage: StorageType.File,
            retention: RetentionPolicy.Limits,
            ...settings,
          });
        }
      };
      await ensure(stream, config);
      const journalStream = options.journalStream ?? DEFAULT_JOURNAL_STREAM;
      const journalPrefix = options.journalPrefix ?? DEFAULT_JOURNAL_PREFIX;
      const journalConfig = {
        subjects: [`${journalPrefix}.>`],
        discard: DiscardPolicy.New,
        max_msgs: options.limits.total,
        max_msgs_per_subject: 1,
        num_replicas: replicas,
        duplicate_window: 120 * 1e9,
      };
      await ensure(journalStream, journalConfig);
      const kv = await new kvModule.Kvm(js).create(
        options.usersBucket ?? DEFAULT_USERS_BUCKET,
        { history: 1, replicas, storage: StorageType.File },
      );
      store = new NatsStore({
        nc,
        js,
        jsm,
        kv,
        stream,
        prefix,
        journalStream,
        journalPrefix,
        limits: options.limits,
        timeout,
        apiErrorCode: (e) =>
          e instanceof jetstreamModule.JetStreamApiError ? e.code : undefined,
      });
      store.#initial = await store.#scanAll();
      return store;
    } catch (error) {
      if (store !== undefined) await store.close();
      else await nc.close();
      throw error;
    }
  }

  private constructor(parts: Parts) {
    this.#p = parts;
    this.#statusLoop = this.#watchStatus();
  }

  /** Whether the NATS connection is up right now. */
  get connected(): boolean {
    return this.#connected && !this.#closed;
  }

  /** Messages currently known to be saved (by this node's count). */
  get count(): number {
    return this.#total.count;
  }

  /**
   * Calls `callback` with the current state at once (`connected` or
   * `disconnected`), then on every change (`disconnected`, `reconnected`).
   * The client reconnects by itself, forever, until {@linkcode close}.
   *
   * @returns a function that stops the callbacks.
   */
  onStatus(callback: (status: NatsStoreStatus) => void): () => void {
    this.#listeners.add(callback);
    callback(this.connected ? "connected" : "disconnected");
    return () => this.#listeners.delete(callback);
  }

  /**
   * Does what the core asked and answers it.
   *
   * - `save`: `saved` once JetStream has ACKed the write (a save repeated
   *   with the same id is stored once and answered `saved` again); `full`
   *   when a limit refuses it; `unavailable` when NATS is down, or no ACK
   *   came within the timeout (such a write is retracted in the background).
   * - `delete`: `deleted` once JetStream removed it, also when it was already
   *   gone; `unavailable` when NATS is down or did not answer.
   * - `journal`: `saved` once JetStream has ACKed the entry; `unavailable`
   *   when NATS is down, the journal is full, or no ACK came in time.
   * - `unjournal`: `deleted` once JetStream purged the entry's subject (also
   *   when it was already gone); `unavailable` when NATS did not answer.
   *
   * Never rejects.
   */
  async apply(request: StoreRequest): Promise<StoreResult> {
    if (request.op === "journal") {
      const { id } = request.entry;
      return { op: "journal", id, outcome: await this.#journal(request.entry) };
    }
    if (request.op === "unjournal") {
      const { id } = request;
      return { op: "unjournal", id, outcome: await this.#unjournal(id) };
    }
    this.#initial = undefined; // the read at open no longer tells it all
    if (request.op === "save") {
      const { id, to } = request.message;
      return { op: "save", id, to, outcome: await this.#save(request.message) };
    }
    const { id, to } = request;
    return { op: "delete", id, to, outcome: await this.#delete(to, id) };
  }

  /**
   * Every saved message, in the order they were saved (stream order), for
   * `restoreStored` after a restart. A call before any `apply` returns what
   * {@linkcode openNatsStore} read; later calls read the stream again.
   *
   * @throws when NATS does not answer (after five tries, a second apart).
   */
  async loadAll(): Promise<StoredMessage[]> {
    const first = this.#initial;
    this.#initial = undefined;
    if (first !== undefined) return first;
    return await this.#scanAll();
  }

  /**
   * Every journal entry left (group messages a node was fanning out when it
   * died), oldest first, for `restoreJournal` when a node takes the lead.
   * Malformed entries are skipped.
   *
   * @throws when NATS does not answer (after five tries, a second apart).
   */
  async loadJournal(): Promise<JournalEntry[]> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#readJournal();
      } catch (error) {
        if (attempt >= SCAN_ATTEMPTS || this.#closed) throw error;
        await new Promise((resolve) => setTimeout(resolve, RETRACT_RETRY_MS));
      }
    }
  }

  async #readJournal(): Promise<JournalEntry[]> {
    const { js, jsm, journalStream } = this.#p;
    const info = await jsm.streams.info(journalStream);
    const found: JournalEntry[] = [];
    if (info.state.messages === 0) return found;
    const consumer = await js.consumers.get(journalStream);
    for (let pending = info.state.messages; pending > 0;) {
      const batch = await consumer.fetch({
        max_messages: Math.min(pending, 1_000),
        expires: Math.max(this.#p.timeout, 1_000),
      });
      let got = 0;
      for await (const m of batch) {
        got++;
        const entry = parseJournalEntry(m.string());
        if (entry !== undefined) found.push(entry);
        pending = m.info.pending;
      }
      if (got === 0) break;
    }
    await consumer.delete().catch(() => {});
    return found;
  }

  async #journal(entry: JournalEntry): Promise<"saved" | "unavailable"> {
    if (!this.connected) return "unavailable";
    try {
      await this.#p.js.publish(
        `${this.#p.journalPrefix}.${entry.id}`,
        JSON.stringify(entry),
        { msgID: entry.id, timeout: this.#p.timeout },
      );
      return "saved";
    } catch {
      // Not confirmed: the fan-out goes on live. Should the entry have been
      // written after all, the core deletes it all the same once its
      // fan-out is resolved (server/relay.ts).
      return "unavailable";
    }
  }

  async #unjournal(id: string): Promise<"deleted" | "unavailable"> {
    if (!this.connected) return "unavailable";
    try {
      await this.#p.jsm.streams.purge(this.#p.journalStream, {
        filter: `${this.#p.journalPrefix}.${id}`,
      });
      return "deleted";
    } catch {
      return "unavailable";
    }
  }

  // The whole stream, tried a few times: right after a cluster node is lost,
  // JetStream may take seconds to elect a new leader and make a consumer.
  async #scanAll(): Promise<StoredMessage[]> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#scan(`${this.#p.prefix}.>`);
      } catch (error) {
        if (attempt >= SCAN_ATTEMPTS || this.#closed) throw error;
        await new Promise((resolve) => setTimeout(resolve, RETRACT_RETRY_MS));
      }
    }
  }

  // Reads every stored message on subjects matching `filter` in stream order
  // and records their ids, sequences and sizes (rebuilding the counts when
  // the filter covers the whole stream). Malformed payloads are skipped.
  async #scan(filter: string): Promise<StoredMessage[]> {
    const { js, jsm, stream, prefix } = this.#p;
    const whole = filter === `${prefix}.>`;
    const info = await jsm.streams.info(stream, {
      subjects_filter: whole ? undefined : filter,
    });
    const found: StoredMessage[] = [];
    const seen: Array<[StoredMessage, number]> = [];
    const expected = whole
      ? info.state.messages
      : (info.state.subjects?.[filter] ?? 0);
    if (expected > 0) {
      // An ordered consumer reads the stream in order; a batch that comes
      // back empty (the last messages were deleted meanwhile) also ends it.
      const consumer = await js.consumers.get(stream, {
        filter_subjects: filter,
      });
      // Each batch asks for no more than is pending, so it ends at once.
      for (let pending = expected; pending > 0;) {
        const batch = await consumer.fetch({
          max_messages: Math.min(pending, 1_000),
          expires: Math.max(this.#p.timeout, 1_000),
        });
        let got = 0;
        for await (const m of batch) {
          got++;
          const message = parseStored(m.string());
          if (message !== undefined) {
            found.push(message);
            seen.push([message, m.seq]);
          }
          pending = m.info.pending;
        }
        if (got === 0) break;
      }
      await consumer.delete().catch(() => {});
    }
    if (whole) {
      this.#entries.clear();
      this.#usage.clear();
      this.#total = { count: 0, size: 0 };
    }
    for (const [message, seq] of seen) {
      if (!this.#entries.has(message.id)) this.#record(message, seq);
    }
    return found;
  }

  /**
   * Registers `name` with `record` only if the name has no record yet
   * (KV create: compare-and-set against "absent"), across every server node
   * sharing the bucket.
   */
  async claimName<T>(name: string, record: T): Promise<ClaimResult> {
    if (!this.connected) return { outcome: "unavailable" };
    try {
      const revision = await this.#p.kv.create(
        recipientToken(name),
        JSON.stringify(record),
      );
      return { outcome: "claimed", revision };
    } catch (error) {
      if (this.#isConflict(error)) return { outcome: "taken" };
      return { outcome: "unavailable" };
    }
  }

  /**
   * Replaces the record of `name` only if its revision is still `revision`
   * (KV update: compare-and-set).
   *
   * @returns the new revision, or `undefined` when the record changed meanwhile.
   * @throws when NATS does not answer.
   */
  async updateUser<T>(
    name: string,
    record: T,
    options: { revision: number },
  ): Promise<number | undefined> {
    try {
      return await this.#p.kv.update(
        recipientToken(name),
        JSON.stringify(record),
        options.revision,
      );
    } catch (error) {
      if (this.#isConflict(error)) return undefined;
      throw error;
    }
  }

  /**
   * The record of `name` and its revision, or `undefined` when it has none
   * (never claimed, or deleted).
   *
   * @throws when NATS does not answer.
   */
  async getUser<T>(name: string): Promise<UserEntry<T> | undefined> {
    const entry = await this.#p.kv.get(recipientToken(name));
    if (entry === null || entry.operation !== "PUT") return undefined;
    return { record: entry.json<T>(), revision: entry.revision };
  }

  /**
   * Deletes the record of `name` (a KV delete: a tombstone, so that a later
   * {@linkcode claimName} of it succeeds). Deleting a name with no record
   * does nothing.
   *
   * @throws when NATS does not answer.
   */
  async deleteUser(name: string): Promise<void> {
    await this.#p.kv.delete(recipientToken(name));
  }

  /**
   * The chat's identity record (server/chat_identity.ts) in the users
   * bucket, under {@linkcode CHAT_IDENTITY_KEY} (a key no name maps to:
   * names are base64url tokens, without dots), with its revision.
   *
   * @throws when NATS does not answer.
   */
  async getChatIdentity(): Promise<
    { text: string; revision: number } | undefined
  > {
    const entry = await this.#p.kv.get(CHAT_IDENTITY_KEY);
    if (entry === null || entry.operation !== "PUT") return undefined;
    return { text: entry.string(), revision: entry.revision };
  }

  /**
   * Writes the chat's identity record by compare-and-set: created when
   * `revision` is absent (KV create), else replaced only if its revision
   * is still `revision` (KV update).
   *
   * @returns Whether it was written (`false`: another node wrote first).
   * @throws when NATS does not answer.
   */
  async putChatIdentity(
    text: string,
    options: { revision?: number } = {},
  ): Promise<boolean> {
    const kv = this.#p.kv;
    try {
      if (options.revision === undefined) {
        await kv.create(CHAT_IDENTITY_KEY, text);
      } else await kv.update(CHAT_IDENTITY_KEY, text, options.revision);
      return true;
    } catch (error) {
      if (this.#isConflict(error)) return false;
      throw error;
    }
  }

  /**
   * Every user record in the bucket, with its revision, for a node that
   * takes the lead (runtime/nats_users.ts).
   *
   * @throws when NATS does not answer.
   */
  async listUsers<T>(): Promise<UserEntry<T>[]> {
    const keys: string[] = [];
    for await (const key of await this.#p.kv.keys()) {
      if (key !== CHAT_IDENTITY_KEY) keys.push(key);
    }
    const entries: UserEntry<T>[] = [];
    for (const key of keys) {
      const entry = await this.#p.kv.get(key);
      if (entry === null || entry.operation !== "PUT") continue;
      try {
        entries.push({ record: entry.json<T>(), revision: entry.revision });
      } catch {
        // Not JSON: not a record this program wrote.
      }
    }
    return entries;
  }

  /**
   * Resolves once no unconfirmed save is waiting to be retracted (at once if
   * none is). For tests and an orderly shutdown.
   */
  settled(): Promise<void> {
    if (this.#retractions.size === 0 || this.#closed) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#settledWaiters.push(resolve);
    return promise;
  }

  /**
   * Closes the connection (after flushing what was sent) and stops the
   * status callbacks and background retractions. Requests applied afterwards
   * answer `unavailable`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    await this.#retractLoop;
    for (const resolve of this.#settledWaiters.splice(0)) resolve();
    try {
      await this.#p.nc.drain();
    } catch {
      await this.#p.nc.close();
    }
    await this.#statusLoop;
    this.#listeners.clear();
  }

  #isConflict(error: unknown): boolean {
    const code = this.#p.apiErrorCode(error);
    return code === WRONG_LAST_SEQUENCE ||
      /wrong last sequence/i.test(String(error));
  }

  #subject(to: string): string {
    return `${this.#p.prefix}.${recipientToken(to)}`;
  }

  #record(message: StoredMessage, seq: number): void {
    const size = message.text.length;
    this.#entries.set(message.id, { seq, to: message.to, size });
    const usage = this.#usage.get(message.to) ?? { count: 0, size: 0 };
    usage.count++;
    usage.size += size;
    this.#usage.set(message.to, usage);
    this.#total.count++;
    this.#total.size += size;
  }

  #forget(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    const usage = this.#usage.get(entry.to);
    if (usage !== undefined) {
      usage.count--;
      usage.size -= entry.size;
      if (usage.count <= 0) this.#usage.delete(entry.to);
    }
    this.#total.count--;
    this.#total.size -= entry.size;
  }

  async #save(
    message: StoredMessage,
  ): Promise<"saved" | "full" | "unavailable"> {
    const known = this.#entries.get(message.id);
    if (known !== undefined && known.seq > 0) return "saved";
    if (!this.connected) return "unavailable";
    if (known !== undefined) return await this.#publishAgain(message);
    const { limits } = this.#p;
    const size = message.text.length;
    const usage = this.#usage.get(message.to) ?? { count: 0, size: 0 };
    if (
      usage.count >= limits.perUser ||
      usage.size + size > limits.bytesPerUser ||
      this.#total.count >= limits.total ||
      this.#total.size + size > limits.bytesTotal
    ) {
      return "full";
    }
    // Reserve the room now: several saves may be waiting for their ACKs.
    this.#record(message, 0);
    try {
      const ack = await this.#p.js.publish(
        this.#subject(message.to),
        JSON.stringify(message),
        { msgID: message.id, timeout: this.#p.timeout },
      );
      const entry = this.#entries.get(message.id);
      if (entry !== undefined) entry.seq = ack.seq;
      return "saved";
    } catch (error) {
      this.#forget(message.id);
      if (isLimitError(error)) return "full";
      if (this.#p.apiErrorCode(error) === undefined) {
        this.#scheduleRetraction(message);
      }
      return "unavailable";
    }
  }

  // A save of an id whose first save still awaits its ACK: JetStream stores
  // one copy; the room was reserved by the first save.
  async #publishAgain(
    message: StoredMessage,
  ): Promise<"saved" | "unavailable"> {
    try {
      const ack = await this.#p.js.publish(
        this.#subject(message.to),
        JSON.stringify(message),
        { msgID: message.id, timeout: this.#p.timeout },
      );
      const entry = this.#entries.get(message.id);
      if (entry !== undefined) entry.seq = ack.seq;
      return "saved";
    } catch {
      return "unavailable";
    }
  }

  async #delete(to: string, id: string): Promise<"deleted" | "unavailable"> {
    if (!this.connected) return "unavailable";
    const { jsm, stream } = this.#p;
    try {
      let seq = this.#entries.get(id)?.seq;
      if (seq === 0) return "unavailable"; // its save is not ACKed yet
      if (seq === undefined) {
        // Saved through another node, or already gone: look in its subject.
        await this.#scan(this.#subject(to));
        seq = this.#entries.get(id)?.seq;
        if (seq === undefined) return "deleted";
      }
      try {
        // Erased (the default), not just marked: nats-server 2.9 writes a
        // plain delete to its index lazily, so after a SIGKILL the message
        // came back (tests/nats_store_test.ts); an erase overwrites it.
        await jsm.streams.deleteMessage(stream, seq);
      } catch (error) {
        if (!isNoMessageFound(error)) throw error;
      }
      this.#forget(id);
      return "deleted";
    } catch {
      return "unavailable";
    }
  }

  #scheduleRetraction(message: StoredMessage): void {
    if (this.#closed) return;
    this.#retractions.set(message.id, message);
    this.#retractLoop ??= this.#retract().finally(() => {
      this.#retractLoop = undefined;
      for (const resolve of this.#settledWaiters.splice(0)) resolve();
    });
  }

  // Publishing the same Nats-Msg-Id again is deduplicated by JetStream: the
  // ACK names the sequence of the copy that is stored, whichever it is, and a
  // late original within the duplicate window is dropped. Then delete it.
  async #retract(): Promise<void> {
    const { js, jsm, stream, timeout } = this.#p;
    while (this.#retractions.size > 0 && !this.#closed) {
      for (const [id, message] of [...this.#retractions]) {
        if (!this.connected) break;
        try {
          const ack = await js.publish(this.#subject(message.to), "", {
            msgID: id,
            timeout,
          });
          try {
            await jsm.streams.deleteMessage(stream, ack.seq);
          } catch (error) {
            if (!isNoMessageFound(error)) throw error;
          }
          this.#retractions.delete(id);
        } catch (error) {
          // A limit refusal means no copy is stored: nothing to retract.
          if (isLimitError(error)) this.#retractions.delete(id);
        }
      }
      if (this.#retractions.size === 0 || this.#closed) break;
      await this.#pause(RETRACT_RETRY_MS);
    }
  }

  #pause(ms: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(() => this.#wake?.(), ms);
    this.#wake = () => {
      clearTimeout(timer);
      this.#wake = undefined;
      resolve();
    };
    return promise;
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.#p.nc.status()) {
      if (status.type === "disconnect" && this.#connected) {
        this.#connected = false;
        this.#emit("disconnected");
      } else if (status.type === "reconnect" && !this.#connected) {
        this.#connected = true;
        this.#emit("reconnected");
        this.#wake?.();
      }
    }
  }

  #emit(status: NatsStoreStatus): void {
    if (this.#closed) return;
    for (const listener of this.#listeners) listener(status);
  }
}

function isLimitError(error: unknown): boolean {
  return /maximum (messages|bytes|messages per subject) exceeded/i.test(
    String(error instanceof Error ? error.message : error),
  );
}

function isNoMessageFound(error: unknown): boolean {
  return (error as { code?: unknown })?.code === NO_MESSAGE_FOUND ||
    /no message found/i.test(String(error));
}

// A JSON object read from the store, or undefined for anything else.
function parseObject(json: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? v as Record<string, unknown>
      : undefined;
  } catch {
    return undefined;
  }
}

function parseJournalEntry(json: string): JournalEntry | undefined {
  const o = parseObject(json);
  if (o === undefined) return undefined;
  if (
    typeof o.id !== "string" || typeof o.from !== "string" ||
    typeof o.text !== "string" || typeof o.messageKey !== "string" ||
    typeof o.savedAt !== "string" || !Array.isArray(o.recipients) ||
    !o.recipients.every((r) => typeof r === "string")
  ) {
    return undefined;
  }
  return {
    id: o.id,
    from: o.from,
    text: o.text,
    messageKey: o.messageKey,
    savedAt: o.savedAt,
    recipients: o.recipients as string[],
  };
}

function parseStored(json: string): StoredMessage | undefined {
  const o = parseObject(json);
  if (o === undefined) return undefined;
  if (
    typeof o.id !== "string" || typeof o.to !== "string" ||
    typeof o.from !== "string" || typeof o.group !== "boolean" ||
    typeof o.text !== "string" || typeof o.messageKey !== "string" ||
    typeof o.savedAt !== "string"
  ) {
    return undefined;
  }
  return {
    id: o.id,
    to: o.to,
    from: o.from,
    group: o.group,
    text: o.text,
    messageKey: o.messageKey,
    savedAt: o.savedAt,
    ...(o.sealed === true ? { sealed: true } : {}),
  };
}
