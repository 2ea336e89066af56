// The baseline: a minimal UDP echo server in the same runtime, with the same
// receive loop as udpchat's (one reused buffer, sends awaited in order).
const port = Number(Deno.args[0]);
const conn = Deno.listenDatagram({
  transport: "udp",
  hostname: "127.0.0.1",
  port,
});
const buf = new Uint8Array(65_507);
const out = new TextEncoder().encode("ready\n");
Deno.stdout.writeSync(out);
let n = 0;
for (;;) {
  const [data, addr] = await conn.receive(buf);
  await conn.send(data.slice(), addr);
  if (++n % 32 === 0) await new Promise((r) => setTimeout(r, 0));
}
