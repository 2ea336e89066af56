/**
 * End to end, real processes on 127.0.0.1 (issue 13's red-team pass): a
 * sender over its own hourly quota of saved messages is told so, with when
 * to try again, not that the server is full; `--exec` exits 4 as for any
 * refused message; a light sender's save is taken. The server is
 * `tests/_abuse_server.ts` with a small `savesPerSender`.
 */
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { freePort, Proc, startClient } from "./_proc.ts";

// Its exit status, the lines on stdout, and on stderr (where an `--exec`
// run prints its error lines), without `>>> `.
async function run(
  args: string[],
): Promise<{ code: number; lines: string[]; errors: string[] }> {
  const p = new Proc(args);
  await p.closeStdin();
  const code = await p.status;
  await p[Symbol.asyncDispose]();
  const errors = p.stderr.split("\n").map((l) => l.replace(/^(>>> )+/, ""));
  return { code, lines: p.lines, errors };
}

Deno.test("--exec: a sender over its save quota is told its own limit and when it resets; a light sender is unaffected", async () => {
  const sp = freePort();
  await using server = new Proc(
    [String(sp), JSON.stringify({ savesPerSender: 3 })],
    { label: "server", script: "tests/_abuse_server.ts" },
  );
  await server.waitFor("[Server is online...]");
  await using p1 = await startClient("userP1", sp, freePort());
  await p1.type("dereg userP1");
  await p1.waitFor("[You are Offline. Bye.]");
  const heavy = await run([
    "-c",
    "userQ",
    "127.0.0.1",
    String(sp),
    "0",
    ...["one", "two", "three", "four"].flatMap((w) => [
      "--exec",
      `send userP1 ${w}`,
    ]),
  ]);
  const text = [...heavy.lines, ...heavy.errors].join("\n");
  assertEquals(heavy.code, 4, text);
  assertEquals(
    heavy.lines.filter((l) => l.startsWith("[Offline Message sent at ")).length,
    3,
    text,
  );
  const refused = heavy.errors.filter((l) =>
    l.startsWith("[Message to userP1 not saved")
  );
  assertEquals(refused.length, 1, text);
  assertMatch(
    refused[0],
    /^\[Message to userP1 not saved: you have reached your hourly limit of saved messages; try again after \d\d:\d\d:\d\d\.\]$/,
  );
  assert(!text.includes("[Server is full"), text);
  const light = await run([
    "-c",
    "userL",
    "127.0.0.1",
    String(sp),
    "0",
    "--exec",
    "send userP1 hello",
  ]);
  assertEquals(light.code, 3, light.lines.join("\n"));
});
