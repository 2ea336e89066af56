/**
 * Quotas per source for saves (issue 13): per sender name and per host
 * (server/save_quota.ts, server/host_key.ts), and whom a filling store
 * refuses first (server/sender_shares.ts through server/memory_store.ts).
 */
import { hostKey, isLoopback } from "../server/host_key.ts";
import { MemoryStore } from "../server/memory_store.ts";
import { DEFAULT_SERVER_LIMITS } from "../server/options.ts";
import {
  SAVE_QUOTA_WINDOW_MS,
  SaveQuota,
  type SaveQuotaLimits,
} from "../server/save_quota.ts";
import type { StoredMessage } from "../server/store.ts";
import { assert, assertEquals } from "./_assert.ts";

const LIMITS: SaveQuotaLimits = {
  savesPerSender: 3,
  savedBytesPerSender: 1_000,
  savesPerHost: 5,
  savedBytesPerHost: 1_000,
};
const one = (now = 0) => ({ copies: 1, length: 10, now });
const at = (hostname: string, port = 4000) => ({ hostname, port });

Deno.test("hostKey() is the IPv4 address, or the /64 of an IPv6 address however it is written", () => {
  assertEquals(hostKey(at("10.78.0.1")), "10.78.0.1");
  assertEquals(hostKey(at("2001:db8:0:1::7")), "2001:db8:0:1::/64");
  assertEquals(
    hostKey(at("2001:0DB8:0000:0001:ffff:0:0:9")),
    "2001:db8:0:1::/64",
  );
  assertEquals(hostKey(at("2001:db8::1")), "2001:db8:0:0::/64");
  assertEquals(hostKey(at("fe80::1%eth0")), "fe80:0:0:0::/64");
  assertEquals(hostKey(at("::ffff:1.2.3.4")), "0:0:0:0::/64");
  assert(hostKey(at("2001:db8:0:1::7")) !== hostKey(at("2001:db8:0:2::7")));
  assertEquals(isLoopback(at("127.0.0.9")), true);
  assertEquals(isLoopback(at("::1")), true);
  assertEquals(isLoopback(at("10.0.0.1")), false);
});

Deno.test("SaveQuota refuses a sender over its own quota, by count and by text", () => {
  const q = new SaveQuota(LIMITS);
  const from = at("10.0.0.1");
  for (let i = 0; i < 3; i++) {
    assertEquals(q.charge({ name: "a", from }, one()), undefined);
  }
  assertEquals(q.charge({ name: "a", from }, one()), "sender");
  const bytes = new SaveQuota({ ...LIMITS, savedBytesPerSender: 15 });
  assertEquals(bytes.charge({ name: "a", from }, one()), undefined);
  assertEquals(bytes.charge({ name: "a", from }, one()), "sender");
  assertEquals(
    bytes.charge({ name: "a", from }, { copies: 1, length: 5, now: 0 }),
    undefined,
  );
});

Deno.test("SaveQuota refuses one host's many names together, each within its own quota", () => {
  const q = new SaveQuota(LIMITS);
  const host = "10.78.0.1";
  let saved = 0;
  for (let name = 0; name < 10; name++) {
    for (let i = 0; i < 3; i++) {
      const r = q.charge(
        { name: `m${name}`, from: at(host, 4000 + name) },
        one(),
      );
      if (r === undefined) saved++;
      else assertEquals(r, "host");
    }
  }
  assertEquals(saved, LIMITS.savesPerHost);
  // Another host's sender is not charged for it.
  assertEquals(
    q.charge({ name: "b", from: at("10.78.0.2") }, one()),
    undefined,
  );
  // Nor is one on loopback (the host's own users).
  for (let name = 0; name < 10; name++) {
    assertEquals(
      q.charge({ name: `l${name}`, from: at("127.0.0.1") }, one()),
      undefined,
    );
  }
});

Deno.test("SaveQuota counts the addresses of one IPv6 /64 as one host", () => {
  const q = new SaveQuota(LIMITS);
  for (let i = 0; i < 5; i++) {
    assertEquals(
      q.charge({ name: `n${i}`, from: at(`2001:db8:0:1::${i + 1}`) }, one()),
      undefined,
    );
  }
  assertEquals(
    q.charge({ name: "n9", from: at("2001:db8:0:1:9::9") }, one()),
    "host",
  );
  assertEquals(
    q.charge({ name: "n9", from: at("2001:db8:0:2::9") }, one()),
    undefined,
  );
});

Deno.test("SaveQuota counts nothing for a refused save, and starts again after an hour", () => {
  const q = new SaveQuota({ ...LIMITS, savesPerHost: 3 });
  const from = at("10.0.0.1");
  for (let i = 0; i < 3; i++) q.charge({ name: "a", from }, one());
  // Refused by the sender's quota: the host was not charged for it.
  assertEquals(q.charge({ name: "a", from }, one()), "sender");
  assertEquals(q.charge({ name: "b", from }, one()), "host");
  const later = SAVE_QUOTA_WINDOW_MS;
  assertEquals(q.charge({ name: "a", from }, one(later)), undefined);
  assertEquals(q.charge({ name: "b", from }, one(later)), undefined);
});

Deno.test("the default limits bound a host's saves per hour below the store's size", () => {
  const l = DEFAULT_SERVER_LIMITS;
  assert(l.savesPerHost >= l.savesPerSender);
  assert(l.savesPerHost * 10 <= l.total);
  assert(l.savedBytesPerHost * 10 <= l.bytesTotal);
});

let seq = 0;
function message(from: string, to: string, text = "x"): StoredMessage {
  seq++;
  return {
    id: `b00t-${seq}`,
    to,
    from,
    group: false,
    text,
    messageKey: `k${seq}`,
    savedAt: "2023-10-21 02:14:41",
  };
}

const save = (store: MemoryStore, m: StoredMessage) =>
  store.apply({ op: "save", message: m }).outcome;

Deno.test("a filling store refuses its heaviest sender first, and never one who has stored little", () => {
  const store = new MemoryStore({
    perUser: 10_000,
    bytesPerUser: 1 << 20,
    total: 4_096,
    bytesTotal: 1 << 20,
  });
  // A few light senders, then one that saves until it is refused.
  for (const light of ["userA", "userB", "userC"]) {
    assertEquals(save(store, message(light, "inbox")), "saved");
  }
  let abuser = 0;
  while (save(store, message("abuser", `box${abuser % 100}`)) === "saved") {
    abuser++;
  }
  // Refused at the reserve mark, three quarters of the store, not at its end.
  assertEquals(store.count, 3_072);
  assertEquals(abuser, 3_069);
  // The light senders, and a newcomer, are still taken.
  for (const light of ["userA", "userB", "userC", "userD"]) {
    assertEquals(save(store, message(light, "inbox")), "saved", light);
  }
  // A second abuser is taken until it holds as much as the mean, then not.
  let second = 0;
  while (save(store, message("abuser2", `box${second}`)) === "saved") second++;
  assert(second > 0 && second < 3_069, `${second}`);
  assertEquals(save(store, message("abuser", "box0")), "full");
  assertEquals(save(store, message("userE", "inbox")), "saved");
  // What a deleted message held is given back to its sender.
  const [first] = store.list("inbox");
  store.apply({ op: "delete", to: "inbox", id: first.id });
  assertEquals(save(store, message(first.from, "inbox")), "saved");
});

Deno.test("a filling store refuses by text too, and lets a sole sender fill it", () => {
  const store = new MemoryStore({
    perUser: 10_000,
    bytesPerUser: 1 << 30,
    total: 1_000_000,
    bytesTotal: 1 << 20,
  });
  assertEquals(save(store, message("userA", "inbox", "hi")), "saved");
  const big = "m".repeat(1_024);
  let n = 0;
  while (save(store, message("abuser", "box", big)) === "saved") n++;
  assert(store.bytes <= (1 << 20) * 0.75 + big.length, `${store.bytes}`);
  assertEquals(save(store, message("userA", "inbox", big)), "saved");
  // One sender alone: nobody else to keep room for, the store is its to fill.
  const sole = new MemoryStore({
    perUser: 100,
    bytesPerUser: 1 << 20,
    total: 8,
    bytesTotal: 1 << 20,
  });
  let k = 0;
  while (save(sole, message("only", "box")) === "saved") k++;
  assertEquals(k, 8);
});
