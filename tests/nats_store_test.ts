// The offline store on NATS JetStream, against a real nats-server started by
// the test (tests/_nats_server.ts): order, deletion, durability across
// SIGKILL, limits, NATS gone and back, unconfirmed saves retracted, and the
// users KV bucket's compare-and-set.

import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { HoldingProxy, NATS_SKIP_REASON, NatsServer } from "./_nats_server.ts";
import {
  type JournalEntry,
  type NatsStore,
  type NatsStoreStatus,
  openNatsStore,
  parseNatsUrls,
  recipientToken,
  type StoredMessage,
  type StoreLimits,
} from "../runtime/nats_store.ts";

if (NATS_SKIP_REASON !== undefined) {
  // deno-lint-ignore no-console
  console.log(`nats_store_test: skipped: ${NATS_SKIP_REASON}`);
}
const ignore = NATS_SKIP_REASON !== undefined;

const ROOMY: StoreLimits = {
  perUser: 1_000,
  bytesPerUser: 1 << 20,
  total: 200_000,
  bytesTotal: 256 << 20,
};

let counter = 0;

function message(to: string, text: string, from = "alice"): StoredMessage {
  counter++;
  return {
    id: `boot-${counter}`,
    to,
    from,
    group: counter % 2 === 0,
    text,
    messageKey: `${from}:s:${counter}`,
    savedAt: "2025-01-02 03:04:05",
  };
}

/** Resolves with the next status `store` reports that is `wanted`. */
function nextStatus(
  store: NatsStore,
  wanted: NatsStoreStatus,
): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  let first = true;
  const stop = store.onStatus((status) => {
    // The first call is the current state.
    if (first) {
      first = false;
      return;
    }
    if (status === wanted) {
      queueMicrotask(() => stop());
      resolve();
    }
  });
  return promise;
}

Deno.test("parseNatsUrls takes comma-separated nats:// URLs", () => {
  assertEquals(parseNatsUrls("nats://127.0.0.1:4222"), [
    "nats://127.0.0.1:4222",
  ]);
  assertEquals(parseNatsUrls("nats://a.example:1, nats://[::1]:4223"), [
    "nats://a.example:1",
    "nats://[::1]:4223",
  ]);
  assertThrows(() => parseNatsUrls(""));
  assertThrows(() => parseNatsUrls("nats://host"));
  assertThrows(() => parseNatsUrls("http://host:4222"));
  assertThrows(() => parseNatsUrls("nats://host:70000"));
});

Deno.test("recipientToken makes distinct subject tokens of Unicode names", () => {
  const names = ["alice", "Alice", "Ünïcödé名", "a.b", "a-b", "a_b", "ääää"];
  const tokens = names.map(recipientToken);
  assertEquals(new Set(tokens).size, names.length);
  for (const t of tokens) assert(/^[A-Za-z0-9_-]+$/.test(t), t);
});

Deno.test({
  name: "100 saved messages come back in order; delete by id",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const store = await openNatsStore([server.url], { limits: ROOMY });
    try {
      assertEquals(await store.loadAll(), []);
      const sent = Array.from(
        { length: 100 },
        (_, i) => message("Ünïcödé名", `text ${i} ✓`),
      );
      // Applied all at once, as the server core may emit them.
      const results = await Promise.all(
        sent.map((m) => store.apply({ op: "save", message: m })),
      );
      for (const [i, r] of results.entries()) {
        assertEquals(r, {
          op: "save",
          id: sent[i].id,
          to: sent[i].to,
          outcome: "saved",
        });
      }
      const other = message("bob", "for bob");
      assertEquals(
        (await store.apply({ op: "save", message: other })).outcome,
        "saved",
      );
      // A repeated save of the same id is stored once.
      assertEquals(
        (await store.apply({ op: "save", message: sent[0] })).outcome,
        "saved",
      );
      assertEquals(await store.loadAll(), [...sent, other]);

      const gone = sent[10];
      assertEquals(
        await store.apply({ op: "delete", to: gone.to, id: gone.id }),
        {
          op: "delete",
          id: gone.id,
          to: gone.to,
          outcome: "deleted",
        },
      );
      // Already gone, or never saved: still `deleted`.
      assertEquals(
        (await store.apply({ op: "delete", to: gone.to, id: gone.id }))
          .outcome,
        "deleted",
      );
      assertEquals(
        (await store.apply({ op: "delete", to: "bob", id: "no-such-id" }))
          .outcome,
        "deleted",
      );
      assertEquals(await store.loadAll(), [
        ...sent.filter((m) => m !== gone),
        other,
      ]);
      assertEquals(store.count, 100);
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name: "saved messages survive nats-server SIGKILL and restart",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const sent = Array.from(
      { length: 100 },
      (_, i) => message("carol", `m${i}`),
    );
    const store = await openNatsStore([server.url], { limits: ROOMY });
    try {
      for (const m of sent) {
        assertEquals(
          (await store.apply({ op: "save", message: m })).outcome,
          "saved",
        );
      }
      assertEquals(
        (await store.apply({ op: "delete", to: "carol", id: sent[0].id }))
          .outcome,
        "deleted",
      );
      // Killed right after the last answer, the store still connected.
      const reconnected = nextStatus(store, "reconnected");
      await server.kill("SIGKILL");
      await server.restart();
      await reconnected;
      // A new node (the id -> sequence map rebuilt from the stream) ...
      const fresh = await openNatsStore([server.url], { limits: ROOMY });
      try {
        assertEquals(await fresh.loadAll(), sent.slice(1));
        assertEquals(fresh.count, 99);
        assertEquals(
          (await fresh.apply({ op: "delete", to: "carol", id: sent[1].id }))
            .outcome,
          "deleted",
        );
      } finally {
        await fresh.close();
      }
      // ... and the old one, reconnected by itself, see the same.
      assertEquals(await store.loadAll(), sent.slice(2));
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name:
    "journal entries are written, survive SIGKILL, are read back in order and purged",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const entries: JournalEntry[] = [1, 2, 3].map((i) => ({
      id: `0badf00d-${i}`,
      from: "alice",
      text: `group ${i} ✓`,
      messageKey: `alice:g:${i}`,
      savedAt: "2025-01-02 03:04:05",
      recipients: ["bob", "Ünïcödé名"],
    }));
    const store = await openNatsStore([server.url], { limits: ROOMY });
    try {
      assertEquals(await store.loadJournal(), []);
      for (const entry of entries) {
        assertEquals(await store.apply({ op: "journal", entry }), {
          op: "journal",
          id: entry.id,
          outcome: "saved",
        });
      }
      // A repeat of an entry (same Nats-Msg-Id) is stored once.
      assertEquals(
        (await store.apply({ op: "journal", entry: entries[0] })).outcome,
        "saved",
      );
      assertEquals(
        await store.apply({ op: "unjournal", id: entries[1].id }),
        { op: "unjournal", id: entries[1].id, outcome: "deleted" },
      );
      // Purging an entry that is gone is not an error.
      assertEquals(
        (await store.apply({ op: "unjournal", id: "no-such-entry" })).outcome,
        "deleted",
      );
      // The journal is not the offline store.
      assertEquals(await store.loadAll(), []);
      const reconnected = nextStatus(store, "reconnected");
      await server.kill("SIGKILL");
      await server.restart();
      await reconnected;
      const fresh = await openNatsStore([server.url], { limits: ROOMY });
      try {
        assertEquals(await fresh.loadJournal(), [entries[0], entries[2]]);
      } finally {
        await fresh.close();
      }
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name: "limits answer full, per recipient and in total, counts and sizes",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const limits = { perUser: 3, bytesPerUser: 10, total: 5, bytesTotal: 14 };
    const store = await openNatsStore([server.url], { limits });
    const save = async (m: StoredMessage) =>
      (await store.apply({ op: "save", message: m })).outcome;
    try {
      assertEquals(await save(message("dave", "aaa")), "saved");
      assertEquals(await save(message("dave", "bbb")), "saved");
      // Text per recipient: 6 + 5 > 10.
      assertEquals(await save(message("dave", "ccccc")), "full");
      assertEquals(await save(message("dave", "cc")), "saved");
      // Messages per recipient: 3.
      assertEquals(await save(message("dave", "d")), "full");
      assertEquals(await save(message("erin", "eeee")), "saved");
      // Text in total: 12 + 3 > 14.
      assertEquals(await save(message("frank", "fff")), "full");
      assertEquals(await save(message("frank", "f")), "saved");
      // Messages in total: 5.
      assertEquals(await save(message("gina", "g")), "full");
      // A deletion makes room again.
      const [first] = await store.loadAll();
      assertEquals(
        (await store.apply({ op: "delete", to: first.to, id: first.id }))
          .outcome,
        "deleted",
      );
      assertEquals(await save(message("gina", "g")), "saved");
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name: "JetStream itself refuses counts beyond the limits (two nodes)",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const limits = { ...ROOMY, perUser: 2 };
    // Both open before any save: neither knows the other's saves.
    const a = await openNatsStore([server.url], { limits });
    const b = await openNatsStore([server.url], { limits });
    try {
      for (const text of ["1", "2"]) {
        assertEquals(
          (await a.apply({ op: "save", message: message("hank", text) }))
            .outcome,
          "saved",
        );
      }
      assertEquals(
        (await b.apply({ op: "save", message: message("hank", "3") }))
          .outcome,
        "full",
      );
      // A message saved through one node is deleted through another.
      const [saved] = await b.loadAll();
      assertEquals(
        (await b.apply({ op: "delete", to: "hank", id: saved.id })).outcome,
        "deleted",
      );
      assertEquals((await a.loadAll()).length, 1);
    } finally {
      await a.close();
      await b.close();
    }
  },
});

Deno.test({
  name: "NATS gone: unavailable at once, never saved; back: saves again",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const store = await openNatsStore([server.url], { limits: ROOMY });
    const seen: NatsStoreStatus[] = [];
    const stop = store.onStatus((s) => seen.push(s));
    try {
      const before = message("ivan", "before");
      assertEquals(
        (await store.apply({ op: "save", message: before })).outcome,
        "saved",
      );
      const disconnected = nextStatus(store, "disconnected");
      await server.kill("SIGKILL");
      await disconnected;
      assertEquals(store.connected, false);
      const lost = message("ivan", "while down");
      assertEquals(
        (await store.apply({ op: "save", message: lost })).outcome,
        "unavailable",
      );
      assertEquals(
        (await store.apply({ op: "delete", to: "ivan", id: before.id }))
          .outcome,
        "unavailable",
      );
      const reconnected = nextStatus(store, "reconnected");
      await server.restart();
      await reconnected;
      const after = message("ivan", "after");
      assertEquals(
        (await store.apply({ op: "save", message: after })).outcome,
        "saved",
      );
      assertEquals(await store.loadAll(), [before, after]);
      assertEquals(seen, ["connected", "disconnected", "reconnected"]);
    } finally {
      stop();
      await store.close();
    }
  },
});

Deno.test({
  name: "a save whose ACK does not come is unavailable and retracted",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    // The server hangs (the proxy holds its traffic) after the publish.
    const proxy = new HoldingProxy(server.port);
    // A short ACK timeout only makes the test quicker.
    const store = await openNatsStore([proxy.url], {
      limits: ROOMY,
      timeoutMs: 1_000,
    });
    try {
      const kept = message("judy", "kept");
      assertEquals(
        (await store.apply({ op: "save", message: kept })).outcome,
        "saved",
      );
      proxy.hold();
      const unconfirmed = message("judy", "unconfirmed");
      assertEquals(
        (await store.apply({ op: "save", message: unconfirmed })).outcome,
        "unavailable",
      );
      // The held publish reaches JetStream now and is stored, then retracted.
      proxy.release();
      await store.settled();
      assertEquals(await store.loadAll(), [kept]);
      assertEquals(store.count, 1);
    } finally {
      await store.close();
      await proxy.close();
    }
  },
});

Deno.test({
  name: "opening fails clearly when NATS is not there",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    await server.kill();
    let failed = false;
    try {
      const store = await openNatsStore([server.url], {
        limits: ROOMY,
        timeoutMs: 500,
      });
      await store.close();
    } catch {
      failed = true;
    }
    assert(failed);
  },
});

Deno.test({
  name: "users KV: a name is claimed once (compare-and-set)",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const a = await openNatsStore([server.url], { limits: ROOMY });
    const b = await openNatsStore([server.url], { limits: ROOMY });
    try {
      assertEquals(await a.getUser("Ünïcödé名"), undefined);
      const claimed = await a.claimName("Ünïcödé名", { node: "a" });
      assertEquals(claimed.outcome, "claimed");
      assertEquals(await b.claimName("Ünïcödé名", { node: "b" }), {
        outcome: "taken",
      });
      const entry = await b.getUser<{ node: string }>("Ünïcödé名");
      assertEquals(entry?.record, { node: "a" });
      assert(claimed.outcome === "claimed");
      assertEquals(entry?.revision, claimed.revision);
      // Compare-and-set update: the current revision wins, a stale one loses.
      const next = await b.updateUser("Ünïcödé名", { node: "b" }, {
        revision: claimed.revision,
      });
      assert(next !== undefined && next > claimed.revision);
      assertEquals(
        await a.updateUser("Ünïcödé名", { node: "a2" }, {
          revision: claimed.revision,
        }),
        undefined,
      );
      assertEquals((await a.getUser("Ünïcödé名"))?.record, { node: "b" });
    } finally {
      await a.close();
      await b.close();
    }
  },
});
