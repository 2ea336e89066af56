// The physical floor in Node: a minimal UDP echo server on `dgram`. Every
// datagram is sent straight back to where it came from.
import dgram from "node:dgram";

const port = Number(process.argv[2]);
const socket = dgram.createSocket("udp4");
socket.on(
  "message",
  (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address),
);
socket.bind(port, "127.0.0.1", () => process.stdout.write("ready\n"));
