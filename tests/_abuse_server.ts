/**
 * A udpchat server with limit overrides, for the abuse tests and the
 * capacity measurement: `deno run --allow-net tests/_abuse_server.ts PORT
 * [LIMITS_JSON]` (e.g. `'{"capacity":1e9}'`). It prints what `main.ts -s`
 * prints and reads `stats` and `exit` on stdin.
 *
 * @module
 */
import { runServer } from "../runtime/server.ts";

const [port, limits] = Deno.args;
Deno.exit(
  await runServer({
    port: Number(port),
    hostname: "127.0.0.1",
    limits: limits === undefined ? undefined : JSON.parse(limits),
  }),
);
