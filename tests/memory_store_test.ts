/**
 * Unit tests of the in-memory offline store (server/memory_store.ts): limits
 * per recipient and in total, deletion by id, order kept.
 */
import { MemoryStore } from "../server/memory_store.ts";
import type { StoredMessage, StoreLimits } from "../server/store.ts";
import { assertEquals } from "./_assert.ts";

const ROOMY: StoreLimits = {
  perUser: 100,
  bytesPerUser: 10_000,
  total: 1_000,
  bytesTotal: 100_000,
};

let seq = 0;
function message(to: string, text = "hi"): StoredMessage {
  seq++;
  return {
    id: `b00t-${seq}`,
    to,
    from: "userA",
    group: false,
    text,
    messageKey: `k${seq}`,
    savedAt: "2023-10-21 02:14:41",
  };
}

function save(store: MemoryStore, m: StoredMessage): string {
  const result = store.apply({ op: "save", message: m });
  assertEquals(result.op, "save");
  assertEquals(result.id, m.id);
  assertEquals(result.to, m.to);
  return result.outcome;
}

Deno.test("MemoryStore.apply() saves messages and lists them per recipient in the order saved", () => {
  const store = new MemoryStore(ROOMY);
  const a = message("userB"), b = message("userC"), c = message("userB");
  for (const m of [a, b, c]) assertEquals(save(store, m), "saved");
  assertEquals(store.list("userB"), [a, c]);
  assertEquals(store.list("userC"), [b]);
  assertEquals(store.list("nobody"), []);
  assertEquals(store.count, 3);
  assertEquals(store.bytes, 6);
});

Deno.test("MemoryStore.apply() refuses a save over the per-recipient count or size with full", () => {
  const store = new MemoryStore({ ...ROOMY, perUser: 2, bytesPerUser: 10 });
  assertEquals(save(store, message("userB")), "saved");
  assertEquals(save(store, message("userB")), "saved");
  assertEquals(save(store, message("userB")), "full");
  // Other recipients are not affected.
  assertEquals(save(store, message("userC", "0123456789")), "saved");
  assertEquals(save(store, message("userC", "x")), "full");
  assertEquals(store.count, 3);
});

Deno.test("MemoryStore.apply() refuses a save over the total count or size with full", () => {
  const byCount = new MemoryStore({ ...ROOMY, total: 2 });
  assertEquals(save(byCount, message("userB")), "saved");
  assertEquals(save(byCount, message("userC")), "saved");
  assertEquals(save(byCount, message("userD")), "full");
  const bySize = new MemoryStore({ ...ROOMY, bytesTotal: 5 });
  assertEquals(save(bySize, message("userB", "abc")), "saved");
  assertEquals(save(bySize, message("userC", "abc")), "full");
  assertEquals(save(bySize, message("userC", "ab")), "saved");
});

Deno.test("MemoryStore.apply() deletes by id, keeps the others in order and frees their room", () => {
  const store = new MemoryStore({ ...ROOMY, perUser: 3 });
  const [a, b, c] = [message("userB"), message("userB"), message("userB")];
  for (const m of [a, b, c]) save(store, m);
  assertEquals(save(store, message("userB")), "full");
  const result = store.apply({ op: "delete", to: "userB", id: b.id });
  assertEquals(result, {
    op: "delete",
    id: b.id,
    to: "userB",
    outcome: "deleted",
  });
  assertEquals(store.list("userB"), [a, c]);
  assertEquals(store.count, 2);
  const d = message("userB");
  assertEquals(save(store, d), "saved");
  assertEquals(store.list("userB"), [a, c, d]);
});

Deno.test("MemoryStore.apply() answers deleted for a message that is not there", () => {
  const store = new MemoryStore(ROOMY);
  const a = message("userB");
  save(store, a);
  assertEquals(
    store.apply({ op: "delete", to: "userB", id: "nope" }).outcome,
    "deleted",
  );
  assertEquals(
    store.apply({ op: "delete", to: "userC", id: a.id }).outcome,
    "deleted",
  );
  assertEquals(store.list("userB"), [a]);
  store.apply({ op: "delete", to: "userB", id: a.id });
  store.apply({ op: "delete", to: "userB", id: a.id });
  assertEquals(store.count, 0);
  assertEquals(store.bytes, 0);
});

Deno.test("MemoryStore.restore() puts back kept messages in order, once each", () => {
  const store = new MemoryStore({ ...ROOMY, perUser: 1 });
  const a = message("userB"), b = message("userB");
  store.restore([a, b, a]);
  assertEquals(store.list("userB"), [a, b]);
  assertEquals(store.count, 2);
});
