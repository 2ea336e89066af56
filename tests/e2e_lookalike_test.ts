/**
 * End to end, real processes on 127.0.0.1 (issue 14; its red-team pass):
 * a name that differs from a registered one only in case (`userd` beside an
 * Offline `userD`), or only in script (`userА` with a Cyrillic `А` beside
 * `userA`), is refused with one line and exit status 5, as a name in use;
 * the table keeps one row.
 */
import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { freePort, Proc, startClient, startServer } from "./_proc.ts";

Deno.test("a lookalike of a registered name (case or script) is refused, exit status 5", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  await using a = await startClient("userA", sp, freePort());
  await using d = await startClient("userD", sp, freePort());
  await d.type("dereg userD");
  await d.waitFor("[You are Offline. Bye.]");
  for (
    const [name, like] of [["userd", "userD"], ["USERD", "userD"], [
      "user\u0410",
      "userA",
    ]]
  ) {
    const p = new Proc([
      "-c",
      name,
      "127.0.0.1",
      String(sp),
      "0",
      "--exec",
      "send_all hijack4",
    ]);
    await p.closeStdin();
    const code = await p.status;
    await p[Symbol.asyncDispose]();
    // An `--exec` run prints its error lines on stderr.
    const out = `${p.lines.join("\n")}\n${p.stderr}`;
    assertEquals(code, 5, `${name}: ${out}`);
    assertStringIncludes(
      p.stderr,
      `[Username ${name} looks like ${like}, already registered: choose another name.]`,
    );
  }
  // Nobody got in: userA's table never showed a second row.
  await a.type("send_all still here");
  await a.waitFor("[Group Message received by Server.]");
  assertEquals(a.count((l) => /'userd'|'USERD'|'user\u0410'/.test(l)), 0);
});
