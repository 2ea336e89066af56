/**
 * User records (server/user_records.ts) in the NATS KV bucket `udpchat_users`
 * (runtime/nats_store.ts): one JSON {@linkcode UserRecord} per name, written
 * with compare-and-set on the key's revision so that two nodes, or two
 * leaders one after the other, never bind two keys to one name.
 *
 * The rules of a put, whatever node writes it:
 *
 * - a claim the bucket holds is never removed by a put: a record without a
 *   claim is stored with the bucket's claim kept;
 * - a record whose claim key differs from the bucket's is not stored:
 *   `taken`;
 * - no record yet: created (KV create, compare-and-set against "absent").
 *
 * A conflicting write (another node wrote between the read and the write) is
 * read again and retried a few times.
 *
 * @module
 */
import type { NatsStore } from "./nats_store.ts";
import {
  mergeUserRecord,
  type UserRecord,
  type UserRecordRequest,
  type UserRecordResult,
} from "../server/user_records.ts";

/** Reads and writes before a contended put gives up (`unavailable`). */
const PUT_ATTEMPTS = 5;

/** What {@linkcode NatsUserRecords} needs of the store. */
export type UserBucket = Pick<
  NatsStore,
  | "connected"
  | "getUser"
  | "claimName"
  | "updateUser"
  | "deleteUser"
  | "listUsers"
>;

/**
 * Answers the core's user-record requests on the KV bucket, and loads every
 * record for a node that takes the lead.
 */
export class NatsUserRecords {
  #bucket: UserBucket;

  /** @param bucket The NATS store (its users bucket). */
  constructor(bucket: UserBucket) {
    this.#bucket = bucket;
  }

  /** Does what was asked; never rejects (failures answer `unavailable`). */
  async apply(request: UserRecordRequest): Promise<UserRecordResult> {
    const { id } = request;
    if (request.op === "delete") {
      if (!this.#bucket.connected) {
        return { op: "delete", id, outcome: "unavailable" };
      }
      try {
        await this.#bucket.deleteUser(request.name);
        return { op: "delete", id, outcome: "deleted" };
      } catch {
        return { op: "delete", id, outcome: "unavailable" };
      }
    }
    return { op: "put", id, outcome: await this.#put(request.record) };
  }

  /**
   * Every record in the bucket that parses as a {@linkcode UserRecord}.
   *
   * @throws when NATS does not answer (after five tries, a second apart).
   */
  async loadAll(): Promise<UserRecord[]> {
    for (let attempt = 1;; attempt++) {
      try {
        const entries = await this.#bucket.listUsers<unknown>();
        return entries.map((e) => parseUserRecord(e.record)).filter((r) =>
          r !== undefined
        );
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  async #put(
    record: UserRecord,
  ): Promise<"saved" | "taken" | "unavailable"> {
    if (!this.#bucket.connected) return "unavailable";
    try {
      for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
        const held = await this.#bucket.getUser<unknown>(record.name);
        if (held === undefined) {
          const created = await this.#bucket.claimName(record.name, record);
          if (created.outcome === "claimed") return "saved";
          if (created.outcome === "unavailable") return "unavailable";
          continue; // written meanwhile: read it again
        }
        const merged = mergeUserRecord(record, parseUserRecord(held.record));
        if (merged === undefined) return "taken";
        const revision = await this.#bucket.updateUser(record.name, merged, {
          revision: held.revision,
        });
        if (revision !== undefined) return "saved";
      }
      return "unavailable";
    } catch {
      return "unavailable";
    }
  }
}

/**
 * A {@linkcode UserRecord} from the bucket's JSON, validated field by field,
 * or `undefined` when it is not one.
 */
export function parseUserRecord(value: unknown): UserRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const o = value as Record<string, unknown>;
  const address = o.address as Record<string, unknown> | undefined;
  if (
    typeof o.name !== "string" || o.name === "" ||
    typeof o.order !== "number" || !Number.isFinite(o.order) ||
    typeof o.online !== "boolean" ||
    typeof o.lastSeen !== "number" || !Number.isFinite(o.lastSeen) ||
    typeof address !== "object" || address === null ||
    typeof address.hostname !== "string" ||
    typeof address.port !== "number" ||
    (o.agreementKey !== undefined && typeof o.agreementKey !== "string") ||
    (o.token !== undefined &&
      (typeof o.token !== "string" || !/^[0-9a-f]{1,64}$/.test(o.token))) ||
    (o.node !== undefined &&
      (typeof o.node !== "string" || !/^[\w-]{1,64}$/.test(o.node)))
  ) {
    return undefined;
  }
  const record: UserRecord = {
    name: o.name,
    order: o.order,
    address: { hostname: address.hostname, port: address.port },
    online: o.online,
    lastSeen: o.lastSeen,
  };
  if (o.transient === true) record.transient = true;
  if (typeof o.agreementKey === "string") {
    record.agreementKey = o.agreementKey;
  }
  if (typeof o.token === "string") record.token = o.token;
  if (typeof o.node === "string") record.node = o.node;
  if (o.claim !== undefined) {
    const c = o.claim as Record<string, unknown> | null;
    if (
      typeof c !== "object" || c === null || typeof c.key !== "string" ||
      (c.agreementKey !== undefined && typeof c.agreementKey !== "string")
    ) {
      return undefined;
    }
    record.claim = typeof c.agreementKey === "string"
      ? { key: c.key, agreementKey: c.agreementKey }
      : { key: c.key };
  }
  return record;
}
