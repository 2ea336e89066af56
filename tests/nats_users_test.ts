/**
 * User records in the NATS KV bucket (runtime/nats_users.ts), against a real
 * `nats-server -js` the test starts: two stores (two nodes) share the
 * bucket; a first claim is compare-and-set, so a second key is `taken`; an
 * unclaimed put keeps the claim; a delete frees the name for a new claim;
 * `loadAll` returns every record; with NATS gone, requests are
 * `unavailable`. The chat's identity record (runtime/chat_term.ts): one
 * boot id and transit seed, a new term per leader, compare-and-set.
 */
import { assertEquals, assertRejects } from "./_assert.ts";
import { takeLeaderTerm } from "../runtime/chat_term.ts";
import { NATS_SKIP_REASON, NatsServer } from "./_nats_server.ts";
import { openNatsStore } from "../runtime/nats_store.ts";
import { NatsUserRecords } from "../runtime/nats_users.ts";
import { DEFAULT_SERVER_LIMITS } from "../server/options.ts";
import type { UserRecord } from "../server/user_records.ts";

const ignore = NATS_SKIP_REASON !== undefined;

function record(name: string, claim?: string): UserRecord {
  return {
    name,
    order: 0,
    address: { hostname: "127.0.0.1", port: 6000 },
    online: true,
    lastSeen: 1_700_000_000_000,
    agreementKey: "x-" + name,
    ...(claim === undefined
      ? {}
      : { claim: { key: claim, agreementKey: "x-" + name } }),
  };
}

Deno.test({
  name:
    "nats users: claims are compare-and-set across two nodes, kept by unclaimed puts, freed by a delete",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const a = await openNatsStore([server.url], {
      limits: DEFAULT_SERVER_LIMITS,
    });
    const b = await openNatsStore([server.url], {
      limits: DEFAULT_SERVER_LIMITS,
    });
    try {
      const ua = new NatsUserRecords(a);
      const ub = new NatsUserRecords(b);
      const name = "Ünïcödé名";
      assertEquals(
        await ua.apply({
          op: "put",
          id: 1,
          record: record(name, "KEY-A"),
          claim: true,
        }),
        { op: "put", id: 1, outcome: "saved" },
      );
      // Another node's first claim with another key: taken, nothing written.
      assertEquals(
        await ub.apply({
          op: "put",
          id: 2,
          record: record(name, "KEY-B"),
          claim: true,
        }),
        { op: "put", id: 2, outcome: "taken" },
      );
      // An unclaimed put (Offline now) keeps the claim.
      const off = { ...record(name), online: false, agreementKey: "other" };
      assertEquals(
        (await ub.apply({ op: "put", id: 3, record: off })).outcome,
        "saved",
      );
      const [kept] = await ua.loadAll();
      assertEquals(kept.online, false);
      assertEquals(kept.claim, { key: "KEY-A", agreementKey: "x-" + name });
      assertEquals(kept.agreementKey, "x-" + name);
      // Forgotten: deleted, and the name can be claimed anew.
      assertEquals(
        await ub.apply({ op: "delete", id: 4, name }),
        { op: "delete", id: 4, outcome: "deleted" },
      );
      assertEquals(await ua.loadAll(), []);
      assertEquals(
        (await ub.apply({
          op: "put",
          id: 5,
          record: record(name, "KEY-B"),
          claim: true,
        })).outcome,
        "saved",
      );
      await ua.apply({ op: "put", id: 6, record: record("userB") });
      const all = (await ub.loadAll()).map((r) => [r.name, r.claim?.key])
        .sort();
      assertEquals(all, [[name, "KEY-B"], ["userB", undefined]].sort());

      // NATS gone: unavailable at once, never a false "saved".
      await server.kill();
      assertEquals(
        (await ua.apply({
          op: "put",
          id: 7,
          record: record("userC", "K"),
          claim: true,
        })).outcome,
        "unavailable",
      );
      assertEquals(
        (await ua.apply({ op: "delete", id: 8, name: "userB" })).outcome,
        "unavailable",
      );
    } finally {
      await a.close();
      await b.close();
    }
  },
});

Deno.test({
  name:
    "nats chat identity: the first leader makes it, each next leader takes the next term, nodes racing never share one, and no name lists it",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const stores = await Promise.all(
      [1, 2, 3].map(() =>
        openNatsStore([server.url], { limits: DEFAULT_SERVER_LIMITS })
      ),
    );
    try {
      const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
      const first = await takeLeaderTerm(stores[0], { random });
      assertEquals(first.term, 1);
      // Three nodes race for terms: every term is taken once, in order.
      const raced = await Promise.all(
        stores.map((s) => takeLeaderTerm(s, { random })),
      );
      assertEquals(raced.map((c) => c.term).sort(), [2, 3, 4]);
      for (const chat of raced) {
        assertEquals(chat.bootId, first.bootId, "one boot id for the chat");
        assertEquals(chat.transitSeed, first.transitSeed, "one transit seed");
      }
      // The identity is not a user record.
      await new NatsUserRecords(stores[0]).apply({
        op: "put",
        id: 1,
        record: record("userA"),
      });
      const users = await new NatsUserRecords(stores[1]).loadAll();
      assertEquals(users.map((u) => u.name), ["userA"]);
      // A malformed identity is never led with.
      await stores[0].putChatIdentity("{}", {
        revision: (await stores[0].getChatIdentity())!.revision,
      });
      await assertRejects(() => takeLeaderTerm(stores[1], { random }));
    } finally {
      for (const s of stores) await s.close();
    }
  },
});
