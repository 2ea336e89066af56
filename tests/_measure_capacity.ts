// deno-lint-ignore-file no-console
/**
 * What the server can serve: requests per second from proven sessions,
 * with every rate limit lifted, so that the server and not a limit is what
 * is measured (issue 13; the figure `capacity` in `server/options.ts` is
 * set from). 128 registered light clients on 127.0.0.1 each ask `who` of
 * their own name, 64 requests in flight (closed loop, `bench/_load.ts`),
 * three runs of 3 s; prints the median.
 *
 * ```sh
 * deno run --allow-all tests/_measure_capacity.ts
 * ```
 *
 * @module
 */
import { closedLoop, type LoadSocket } from "../bench/_load.ts";
import {
  closeAll,
  newTraffic,
  openClients,
  registerAll,
} from "../bench/_light_client.ts";
import { encodeMessage } from "../protocol/codec.ts";
import { freePort } from "./_proc.ts";

const port = freePort();
const unlimited = {
  capacity: 1e9,
  rateLimit: 1e9,
  rateBurst: 1e9,
  unvalidatedRate: 1e9,
  unvalidatedBurst: 1e9,
};
const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net",
    new URL("./_abuse_server.ts", import.meta.url).pathname,
    String(port),
    JSON.stringify(unlimited),
  ],
  stdin: "null",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
for (let seen = ""; !seen.includes("online");) {
  const { value, done } = await reader.read();
  if (done) throw new Error("the server exited");
  seen += value;
}
const clients = await openClients(128, "cap", port, newTraffic(), "ignore");
await registerAll(clients, 30_000);
const sockets: LoadSocket[] = clients.map((c) => {
  const s: LoadSocket = {
    send: () =>
      c.sendBytes(
        encodeMessage({ t: "who", id: c.nextId(), tok: c.tok, name: c.name }),
      ),
  };
  // '{"v":1,"t":"ack"': bytes 12 and 13 are "ac".
  c.raw = (b) => s.onAnswer?.(b[12] === 97 && b[13] === 99);
  return s;
});
const rates: number[] = [];
for (let run = 0; run < 3; run++) {
  const r = await closedLoop(sockets, 64, 3);
  rates.push(r.rate);
  console.log(
    `run ${run + 1}: ${Math.round(r.rate)} requests/s (${r.resent} resent)`,
  );
}
await closeAll(clients);
rates.sort((a, b) => a - b);
console.log(`median: ${Math.round(rates[1])} requests/s`);
server.kill("SIGTERM");
await server.status;
await reader.cancel();
