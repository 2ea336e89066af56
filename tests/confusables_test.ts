/**
 * Names people cannot confuse (issue 14): names are kept in NFC, and a new
 * name whose UTS #39 confusable skeleton equals a registered name's is
 * refused with `err confusable` and a clear line; so is one whose caseless
 * skeleton (case-folded first, UTS #39 section 4) equals one's (issue 14's
 * red-team pass: `userd` beside an Offline `userD`).
 */
import { assert, assertEquals } from "./_assert.ts";
import {
  caselessSkeleton,
  normalizeName,
  skeleton,
} from "../protocol/confusables.ts";
import { UserIndex } from "../server/user_index.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import { parseCommand } from "../client/commands.ts";
import { parseCommandLine } from "../cli/args.ts";
import { chat, clientAddr } from "./_sim.ts";
import { ClientState } from "./_client.ts";
import { SERVER } from "./_sim.ts";
import { seededBytes } from "./_sim.ts";

const CYRILLIC = "user\u0410"; // userА
const FULLWIDTH = "user\uff21"; // userＡ
const HAN_COMPOSED = "\ud55c"; // 한
const HAN_DECOMPOSED = "\u1112\u1161\u11ab"; // 한 as three jamo

Deno.test("skeleton: Cyrillic and fullwidth lookalikes of userA are userA", () => {
  assertEquals(skeleton(CYRILLIC), skeleton("userA"));
  assertEquals(skeleton(FULLWIDTH), skeleton("userA"));
  assert(skeleton("userA") !== skeleton("userB"));
  assert(skeleton("userA") !== skeleton("usera"));
  assertEquals(skeleton("user1"), skeleton("userl"));
});

Deno.test("normalizeName: Hangul composed and decomposed are one name", () => {
  assertEquals(normalizeName(HAN_DECOMPOSED), HAN_COMPOSED);
  assertEquals(normalizeName(HAN_COMPOSED), HAN_COMPOSED);
});

Deno.test("codec: names arrive in NFC", () => {
  const bytes = new TextEncoder().encode(
    JSON.stringify({ v: 1, t: "reg", id: 1, name: HAN_DECOMPOSED }),
  );
  assertEquals(decodeMessage(bytes), {
    ok: true,
    message: { t: "reg", id: 1, name: HAN_COMPOSED },
  });
  // A combining mark alone is not a name, composed or not.
  const mark = encodeMessage({ t: "reg", id: 1, name: "e\u0301" });
  assertEquals(decodeMessage(mark), {
    ok: true,
    message: { t: "reg", id: 1, name: "\u00e9" },
  });
});

Deno.test("client: names typed in commands and on the command line are NFC", () => {
  assertEquals(parseCommand(`send ${HAN_DECOMPOSED} hi`), {
    cmd: "send",
    to: HAN_COMPOSED,
    text: "hi",
  });
  const config = parseCommandLine([
    "-c",
    HAN_DECOMPOSED,
    "127.0.0.1",
    "5000",
    "0",
  ]);
  assert("mode" in config && config.mode === "client");
  assertEquals((config as { name: string }).name, HAN_COMPOSED);
});

for (const lookalike of [CYRILLIC, FULLWIDTH]) {
  Deno.test(`server: ${JSON.stringify(lookalike)} beside userA is refused`, () => {
    const { net, server } = chat(["userA"]);
    const addr = clientAddr(5);
    const impostor = net.add(
      addr,
      new ClientState({
        name: lookalike,
        server: SERVER,
        random: seededBytes(7),
      }),
    );
    impostor.start(net.now);
    net.run(1000);
    assertEquals(server.table.map((r) => r[0]), ["userA"]);
    assert(
      net.lines(addr).includes(
        `[Username ${lookalike} looks like userA, already registered: choose another name.]`,
      ),
      net.lines(addr).join("\n"),
    );
    assertEquals(impostor.exit?.reason, "name_in_use");
  });
}

Deno.test("server: a lookalike of an Offline name is refused too", () => {
  const { net, server, type } = chat(["userA"]);
  type("userA", "dereg userA");
  net.run(1000);
  const addr = clientAddr(5);
  const impostor = net.add(
    addr,
    new ClientState({ name: CYRILLIC, server: SERVER, random: seededBytes(7) }),
  );
  impostor.start(net.now);
  net.run(1000);
  assertEquals(server.table.map((r) => r[0]), ["userA"]);
});

Deno.test("server: Hangul decomposed is the composed name (same user), not a second row", () => {
  const { net, server, type } = chat([HAN_COMPOSED]);
  type(HAN_COMPOSED, `dereg ${HAN_COMPOSED}`);
  net.run(1000);
  const addr = clientAddr(5);
  const again = net.add(
    addr,
    new ClientState({
      name: HAN_DECOMPOSED,
      server: SERVER,
      random: seededBytes(7),
    }),
  );
  again.start(net.now);
  net.run(1000);
  assertEquals(server.table.map((r) => [r[0], r[3]]), [[HAN_COMPOSED, 1]]);
});

Deno.test("caselessSkeleton: names differing only in case are lookalikes", () => {
  assertEquals(caselessSkeleton("userd"), caselessSkeleton("userD"));
  assertEquals(caselessSkeleton("USERD"), caselessSkeleton("userD"));
  // Case and script together: a Cyrillic capital А beside a Latin a.
  assertEquals(caselessSkeleton("USER\u0410"), caselessSkeleton("usera"));
  // Letters with two lowercase forms fold to one, as toCasefold does.
  assertEquals(caselessSkeleton("user\u03a3"), caselessSkeleton("user\u03c3"));
  assertEquals(caselessSkeleton("user\u1e9e"), caselessSkeleton("userss"));
  // Still distinct letters stay distinct.
  assert(caselessSkeleton("userD") !== caselessSkeleton("userE"));
  assert(caselessSkeleton("userA") !== caselessSkeleton("userB"));
  // Folding alone loses `I` beside `l` (`I` folds to `i`): the plain
  // skeleton still has it.
  assert(caselessSkeleton("userI") !== caselessSkeleton("userl"));
  assertEquals(skeleton("userI"), skeleton("userl"));
});

Deno.test("caselessSkeleton: the seed's names (userA to userZ) stay distinct", () => {
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const seen = new Set<string>();
  for (const c of letters) seen.add(caselessSkeleton(`user${c}`));
  assertEquals(seen.size, letters.length);
});

Deno.test("UserIndex.lookalike(): either skeleton, plain or caseless", () => {
  const index = new UserIndex();
  index.reserve("userD");
  index.reserve("userI");
  assertEquals(index.lookalike("userd"), "userD");
  assertEquals(index.lookalike("USERD"), "userD");
  assertEquals(index.lookalike("userl"), "userI");
  assertEquals(index.lookalike("userE"), undefined);
  // Releasing a name frees both; a skeleton another name holds is kept.
  index.release("userd");
  assertEquals(index.lookalike("userd"), "userD");
  index.release("userD");
  assertEquals(index.lookalike("userd"), undefined);
  assertEquals(index.lookalike("userl"), "userI");
});

for (const state of ["Online", "Offline"]) {
  Deno.test(`server: userd beside an ${state} userD is refused, and exits as for a name in use`, () => {
    const { net, server, type } = chat(["userD"]);
    if (state === "Offline") {
      type("userD", "dereg userD");
      net.run(1000);
    }
    const addr = clientAddr(5);
    const impostor = net.add(
      addr,
      new ClientState({
        name: "userd",
        server: SERVER,
        random: seededBytes(7),
      }),
    );
    impostor.start(net.now);
    net.run(1000);
    assertEquals(server.table.map((r) => [r[0], r[3]]), [
      ["userD", state === "Online" ? 1 : 0],
    ]);
    assert(
      net.lines(addr).includes(
        "[Username userd looks like userD, already registered: choose another name.]",
      ),
      net.lines(addr).join("\n"),
    );
    assertEquals(impostor.exit?.reason, "name_in_use");
  });
}

Deno.test("server: the same name comes back after dereg; distinct letters register side by side", () => {
  const { net, server, type } = chat(["userD", "userE", "userA"]);
  type("userD", "dereg userD");
  net.run(1000);
  type("userD", "reg userD");
  net.run(1000);
  assertEquals(server.table.map((r) => [r[0], r[3]]), [
    ["userD", 1],
    ["userE", 1],
    ["userA", 1],
  ]);
});
