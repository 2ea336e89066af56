/**
 * Names nobody comes back for are forgotten after `offlineNameTtlMs`: the row
 * leaves every table and what was stored for the name is deleted, so the
 * next user of that name gets none of it. On the fake network and clock.
 */
import { NameExpiry } from "../server/name_expiry.ts";
import { assert, assertEquals } from "./_assert.ts";
import { chat } from "./_sim.ts";

const TTL = 60_000;

Deno.test("NameExpiry.takeExpired() returns the names Offline past the limit, oldest first", () => {
  const e = new NameExpiry(TTL);
  e.wentOffline("a", 0);
  e.wentOffline("b", 10);
  e.wentOffline("a", 20); // Offline again: its clock restarts
  assertEquals(e.nextDeadline, 10 + TTL);
  assertEquals(e.takeExpired(20 + TTL - 1), ["b"]);
  assertEquals(e.takeExpired(20 + TTL), ["a"]);
  assertEquals(e.nextDeadline, undefined);
  assertEquals(new NameExpiry(Infinity).nextDeadline, undefined);
});

Deno.test("ServerState forgets a name Offline past offlineNameTtlMs, with what was stored for it", () => {
  const { net, server, type, addr } = chat(["userA", "userB"], {
    limits: { offlineNameTtlMs: TTL },
  });
  type("userB", "dereg userB");
  net.run(1_000);
  type("userA", "send userB stored for the old userB");
  net.run(1_000);
  assertEquals(server.stats().offlineMessages, 1);
  // userA comes back now and then: its own clock restarts each time.
  type("userA", "dereg userA");
  net.run(30_000);
  type("userA", "reg userA");
  net.run(TTL);
  assertEquals(server.table.map((r) => r[0]), ["userA"], "userB forgotten");
  assertEquals(server.stats().offlineMessages, 0, "its stored message deleted");
  assert(
    !net.lines(addr("userA")).at(-1)!.includes("userB"),
    net.lines(addr("userA")).at(-1),
  );
  // The name is free; its next user gets nothing of the old one's.
  type("userB", "reg userB");
  net.run(1_000);
  assert(
    !net.lines(addr("userB")).some((l) => l.includes("stored for the old")),
  );
  assertEquals(server.table.map((r) => [r[0], r[3]]), [["userA", 1], [
    "userB",
    1,
  ]]);
});
