// The baseline: a minimal UDP echo server in the same runtime. Every datagram
// is sent straight back to where it came from, one at a time.
const port = Number(Deno.args[0]);
const conn = Deno.listenDatagram({
  transport: "udp",
  hostname: "127.0.0.1",
  port,
});
const buf = new Uint8Array(65_507);
Deno.stdout.writeSync(new TextEncoder().encode("ready\n"));
for (;;) {
  const [data, addr] = await conn.receive(buf);
  await conn.send(data, addr);
}
