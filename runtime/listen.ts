/**
 * Opening the UDP socket: dual-stack by default, one address on request.
 *
 * @module
 */

/** Options for {@linkcode listenUdp}. */
export interface ListenOptions {
  /**
   * The one address to bind (an IPv4 or IPv6 literal). Without it the socket
   * binds `::`, which on a dual-stack host takes IPv6 and IPv4 alike (IPv4
   * peers appear as `::ffff:a.b.c.d`, which the driver unmaps), and falls
   * back to `0.0.0.0` where IPv6 is unavailable.
   */
  hostname?: string;
}

/**
 * Opens a UDP socket on `port`.
 *
 * @param port The UDP port; 0 picks a free one.
 * @param options The address to bind, if one.
 * @returns The open socket.
 * @throws The error of the bind (`AddrInUse`, `PermissionDenied`, ...), and
 * a `TypeError` when `Deno.listenDatagram` is missing (the unstable net API
 * is not enabled).
 */
export function listenUdp(
  port: number,
  options: ListenOptions = {},
): Deno.DatagramConn {
  if (options.hostname !== undefined) {
    return Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname.replace(/^\[(.*)\]$/, "$1"),
      port,
    });
  }
  try {
    return Deno.listenDatagram({ transport: "udp", hostname: "::", port });
  } catch (e) {
    // No IPv6 on this host: IPv4 alone. A port in use is in use on both.
    if (e instanceof Deno.errors.AddrInUse || e instanceof TypeError) throw e;
    if (e instanceof Deno.errors.PermissionDenied) throw e;
    return Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port });
  }
}
