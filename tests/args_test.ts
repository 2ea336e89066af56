/**
 * The command line: every form udpchat accepts and every way to get it wrong.
 */
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { type Config, HELP_TEXT, parseCommandLine } from "../cli/args.ts";
import {
  EXIT_FAILURE,
  EXIT_NAME_IN_USE,
  EXIT_OK,
  EXIT_SAVED,
  EXIT_UNKNOWN_USER,
  EXIT_USAGE,
} from "../cli/exit_codes.ts";
import { VERSION } from "../cli/version.ts";

const USAGE_SERVER =
  "usage: udpchat -s <server_port> [--json] [--store URL] [--bind ADDRESS]";
const USAGE_CLIENT =
  "usage: udpchat -c <name> <server_host> <server_port> <client_port> [options]";

function client(overrides: Partial<Config & { mode: "client" }> = {}): Config {
  return {
    mode: "client",
    name: "alice",
    host: "localhost",
    serverPort: 5000,
    clientPort: 6000,
    json: false,
    exec: [],
    bell: true,
    color: true,
    ...overrides,
  };
}

/** The error line for `args`, failing if they parse. */
function error(args: string[]): string {
  const r = parseCommandLine(args);
  assert("error" in r, `expected an error for ${JSON.stringify(args)}`);
  return r.error;
}

function firstLine(args: string[]): string {
  return error(args).split("\n")[0];
}

Deno.test("parseCommandLine(): server mode", () => {
  assertEquals(parseCommandLine(["-s", "5000"]), {
    mode: "server",
    port: 5000,
    json: false,
  });
  assertEquals(parseCommandLine(["-s", "1"]), {
    mode: "server",
    port: 1,
    json: false,
  });
  assertEquals(parseCommandLine(["-s", "65535"]), {
    mode: "server",
    port: 65535,
    json: false,
  });
});

Deno.test("parseCommandLine(): server --json, before or after the port", () => {
  const want = { mode: "server", port: 5000, json: true };
  assertEquals(parseCommandLine(["-s", "5000", "--json"]), want);
  assertEquals(parseCommandLine(["--json", "-s", "5000"]), want);
});

Deno.test("parseCommandLine(): client mode", () => {
  assertEquals(
    parseCommandLine(["-c", "alice", "localhost", "5000", "6000"]),
    client(),
  );
});

Deno.test("parseCommandLine(): client port 0 picks a free port", () => {
  assertEquals(
    parseCommandLine(["-c", "alice", "localhost", "5000", "0"]),
    client({ clientPort: 0 }),
  );
});

Deno.test("parseCommandLine(): client options", () => {
  assertEquals(
    parseCommandLine([
      "-c",
      "alice",
      "127.0.0.1",
      "5000",
      "6000",
      "--json",
      "--no-bell",
      "--no-color",
    ]),
    client({ host: "127.0.0.1", json: true, bell: false, color: false }),
  );
});

Deno.test("parseCommandLine(): --exec is repeatable and keeps its order", () => {
  assertEquals(
    parseCommandLine([
      "--exec",
      "send bob hi there",
      "-c",
      "alice",
      "localhost",
      "5000",
      "0",
      "--exec",
      "send_all hello",
      "--exec=dereg alice",
    ]),
    client({
      clientPort: 0,
      exec: ["send bob hi there", "send_all hello", "dereg alice"],
    }),
  );
});

Deno.test("parseCommandLine(): an --exec command may look like an option", () => {
  assertEquals(
    parseCommandLine([
      "-c",
      "alice",
      "localhost",
      "5000",
      "6000",
      "--exec",
      "--help",
      "--exec",
      "-s",
    ]),
    client({ exec: ["--help", "-s"] }),
  );
});

Deno.test("parseCommandLine(): -- ends the options", () => {
  assertEquals(
    parseCommandLine(["-c", "--", "-bob", "localhost", "5000", "6000"]),
    client({ name: "-bob" }),
  );
  assertEquals(
    parseCommandLine(["-c", "--", "-h", "localhost", "5000", "6000"]),
    client({ name: "-h" }),
  );
});

Deno.test("parseCommandLine(): --help and -h", () => {
  assertEquals(parseCommandLine(["--help"]), { mode: "help" });
  assertEquals(parseCommandLine(["-h"]), { mode: "help" });
  // Wins over anything else, even a command line that is wrong.
  assertEquals(parseCommandLine(["-s", "99999", "--bogus", "-h"]), {
    mode: "help",
  });
  assertEquals(parseCommandLine(["--version", "--help"]), { mode: "help" });
});

Deno.test("parseCommandLine(): --version and -V", () => {
  assertEquals(parseCommandLine(["--version"]), { mode: "version" });
  assertEquals(parseCommandLine(["-V"]), { mode: "version" });
  assertEquals(parseCommandLine(["-c", "x", "--version"]), {
    mode: "version",
  });
});

Deno.test("parseCommandLine(): VERSION is semver 0.1.0", () => {
  assertEquals(VERSION, "0.1.0");
});

Deno.test("parseCommandLine(): HELP_TEXT shows every mode, flag, chat command and exit status", () => {
  for (
    const s of [
      "udpchat -s <server_port> [--json]",
      "udpchat -c <name> <server_host> <server_port> <client_port>",
      "--help",
      "--version",
      "--exec",
      "--json",
      "--no-bell",
      "--no-color",
      "send NAME MESSAGE",
      "send_all MESSAGE",
      "dereg NAME",
      "reg NAME",
      "help",
      "exit",
      "0 to pick a free port",
    ]
  ) {
    assert(HELP_TEXT.includes(s), `HELP_TEXT lacks ${s}`);
  }
  for (
    const code of [
      EXIT_OK,
      EXIT_FAILURE,
      EXIT_USAGE,
      EXIT_SAVED,
      EXIT_UNKNOWN_USER,
      EXIT_NAME_IN_USE,
    ]
  ) {
    assertMatch(HELP_TEXT, new RegExp(`^  ${code}  \\S`, "m"));
  }
  assert(HELP_TEXT.endsWith("\n"));
  for (const line of HELP_TEXT.split("\n")) {
    assert(line.length <= 80, `help line over 80 columns: ${line}`);
  }
});

Deno.test("parseCommandLine(): exit statuses are distinct and documented values", () => {
  assertEquals(
    [
      EXIT_OK,
      EXIT_FAILURE,
      EXIT_USAGE,
      EXIT_SAVED,
      EXIT_UNKNOWN_USER,
      EXIT_NAME_IN_USE,
    ],
    [0, 1, 2, 3, 4, 5],
  );
});

Deno.test("parseCommandLine(): neither -s nor -c", () => {
  // One line (the issue #12 wording): no usage lines after it.
  assertEquals(error([]), "Missing -s or -c (try --help)");
  assertEquals(
    firstLine(["alice", "localhost"]),
    "Missing -s or -c (try --help)",
  );
  assertEquals(firstLine(["--json"]), "Missing -s or -c (try --help)");
});

Deno.test("parseCommandLine(): both -s and -c", () => {
  assertEquals(
    error(["-s", "5000", "-c", "a", "localhost", "5000", "6000"]),
    "Choose one of -s (server) and -c (client)",
  );
  assertEquals(
    error(["-c", "-s", "5000"]),
    "Choose one of -s (server) and -c (client)",
  );
  assertEquals(
    error(["-s", "-s", "5000"]),
    "Choose one of -s (server) and -c (client)",
  );
});

Deno.test("parseCommandLine(): unknown options", () => {
  assertEquals(
    error(["-s", "5000", "--bogus"]),
    "Unknown option: --bogus (try --help)",
  );
  assertEquals(error(["-x"]), "Unknown option: -x (try --help)");
  assertEquals(
    error(["-s", "5000", "--json=1"]),
    "Unknown option: --json=1 (try --help)",
  );
  assertEquals(
    error(["-c", "a", "localhost", "5000", "6000", "--no-colour"]),
    "Unknown option: --no-colour (try --help)",
  );
});

Deno.test("parseCommandLine(): server: missing or extra port", () => {
  assertEquals(error(["-s"]), `Missing server port (${USAGE_SERVER})`);
  assertEquals(
    error(["-s", "--json"]),
    `Missing server port (${USAGE_SERVER})`,
  );
  assertEquals(
    error(["-s", "5000", "6000"]),
    `Unexpected argument: 6000 (${USAGE_SERVER})`,
  );
});

Deno.test("parseCommandLine(): server: client options are refused", () => {
  assertEquals(
    error(["-s", "5000", "--exec", "send a b"]),
    "Not a server option: --exec",
  );
  assertEquals(
    error(["-s", "5000", "--exec=send a b"]),
    "Not a server option: --exec",
  );
  assertEquals(
    error(["-s", "5000", "--no-bell"]),
    "Not a server option: --no-bell",
  );
  assertEquals(
    error(["-s", "5000", "--no-color"]),
    "Not a server option: --no-color",
  );
});

Deno.test("parseCommandLine(): --exec without a command", () => {
  assertEquals(
    error(["-c", "a", "localhost", "5000", "6000", "--exec"]),
    "Missing command after --exec",
  );
});

Deno.test("parseCommandLine(): client: says which arguments are missing", () => {
  assertEquals(
    error(["-c"]),
    `Missing name, server host, server port, client port (${USAGE_CLIENT})`,
  );
  assertEquals(
    error(["-c", "alice"]),
    `Missing server host, server port, client port (${USAGE_CLIENT})`,
  );
  assertEquals(
    error(["-c", "alice", "localhost"]),
    `Missing server port, client port (${USAGE_CLIENT})`,
  );
  assertEquals(
    error(["-c", "alice", "localhost", "5000"]),
    `Missing client port (${USAGE_CLIENT})`,
  );
});

Deno.test("parseCommandLine(): client: extra arguments", () => {
  assertEquals(
    error(["-c", "alice", "localhost", "5000", "6000", "hi"]),
    `Unexpected argument: hi (${USAGE_CLIENT})`,
  );
});

Deno.test("parseCommandLine(): ports must be whole numbers in range", () => {
  const cases: [string[], string][] = [
    [["-s", "0"], 'Invalid server port: "0" is not between 1 and 65535'],
    [
      ["-s", "70000"],
      'Invalid server port: "70000" is not between 1 and 65535',
    ],
    [
      ["-s", "65536"],
      'Invalid server port: "65536" is not between 1 and 65535',
    ],
    [
      ["-s", "99999999999999999999999"],
      'Invalid server port: "99999999999999999999999" is not between 1 and 65535',
    ],
    [
      ["-s", "abc"],
      'Invalid server port: "abc" is not a whole number between 1 and 65535',
    ],
    [
      ["-s", "50.5"],
      'Invalid server port: "50.5" is not a whole number between 1 and 65535',
    ],
    [
      ["-s", "1e3"],
      'Invalid server port: "1e3" is not a whole number between 1 and 65535',
    ],
    [
      ["-s", "0x10"],
      'Invalid server port: "0x10" is not a whole number between 1 and 65535',
    ],
    [
      ["-s", "+5"],
      'Invalid server port: "+5" is not a whole number between 1 and 65535',
    ],
    [
      ["-s", ""],
      'Invalid server port: "" is not a whole number between 1 and 65535',
    ],
    [
      ["-s", " 5"],
      'Invalid server port: " 5" is not a whole number between 1 and 65535',
    ],
    [
      ["-s", "٥٠٠٠"],
      'Invalid server port: "٥٠٠٠" is not a whole number between 1 and 65535',
    ],
    // A negative number is a bad port, not an unknown option.
    [
      ["-s", "-1"],
      'Invalid server port: "-1" is not a whole number between 1 and 65535',
    ],
    [
      ["-c", "a", "localhost", "0", "6000"],
      'Invalid server port: "0" is not between 1 and 65535',
    ],
    [
      ["-c", "a", "localhost", "x", "6000"],
      'Invalid server port: "x" is not a whole number between 1 and 65535',
    ],
    [
      ["-c", "a", "localhost", "5000", "65536"],
      'Invalid client port: "65536" is not between 0 and 65535',
    ],
    [
      ["-c", "a", "localhost", "5000", "-1"],
      'Invalid client port: "-1" is not a whole number between 0 and 65535',
    ],
    [
      ["-c", "a", "localhost", "5000", "x"],
      'Invalid client port: "x" is not a whole number between 0 and 65535',
    ],
  ];
  for (const [args, want] of cases) assertEquals(error(args), want);
  // Leading zeros are still a port number.
  assertEquals(parseCommandLine(["-s", "05000"]), {
    mode: "server",
    port: 5000,
    json: false,
  });
});

Deno.test("parseCommandLine(): names", () => {
  for (
    const name of [
      "a",
      "userA",
      "user_b",
      "user.c",
      "user-d",
      "42",
      "ÉloÏse",
      "李雷",
      "x".repeat(32),
    ]
  ) {
    assertEquals(
      parseCommandLine(["-c", name, "localhost", "5000", "6000"]),
      client({ name }),
      name,
    );
  }
  for (
    const name of [
      "",
      "x".repeat(33),
      "has space",
      "semi;colon",
      "quote'",
      "emoji🙂",
      "tab\t",
      "new\nline",
    ]
  ) {
    assertEquals(
      error(["-c", name, "localhost", "5000", "6000"]),
      `Invalid name: "${name}" must be 1 to 32 letters, digits, "_", "." or "-"`,
    );
  }
});

Deno.test("parseCommandLine(): hosts that are accepted", () => {
  for (
    const host of [
      "localhost",
      "127.0.0.1",
      "0.0.0.0",
      "255.255.255.255",
      "10.1.2.3",
      "::1",
      "[::1]",
      "::",
      "fe80::1",
      "2001:db8::8a2e:370:7334",
      "2001:0db8:0000:0000:0000:ff00:0042:8329",
      "[2001:db8::1]",
      "::ffff:127.0.0.1",
      "chat.example.org",
      "chat.example.org.",
      "my-host",
      "a1.b2.c3",
      "xn--bcher-kva.example",
      "1host.example",
    ]
  ) {
    assertEquals(
      parseCommandLine(["-c", "alice", host, "5000", "6000"]),
      client({ host }),
      host,
    );
  }
});

Deno.test("parseCommandLine(): hosts that are refused", () => {
  const cases: [string, string][] = [
    ["", "Invalid server host: it is empty"],
    ["256.0.0.1", 'Invalid server host: "256.0.0.1" is not an IPv4 address'],
    ["1.2.3", 'Invalid server host: "1.2.3" is not an IPv4 address'],
    ["1.2.3.4.5", 'Invalid server host: "1.2.3.4.5" is not an IPv4 address'],
    ["1..2.3", 'Invalid server host: "1..2.3" is not an IPv4 address'],
    ["12345", 'Invalid server host: "12345" is not an IPv4 address'],
    [":::", 'Invalid server host: ":::" is not an IPv6 address'],
    ["1::2::3", 'Invalid server host: "1::2::3" is not an IPv6 address'],
    ["12345::1", 'Invalid server host: "12345::1" is not an IPv6 address'],
    ["g::1", 'Invalid server host: "g::1" is not an IPv6 address'],
    [
      "1:2:3:4:5:6:7",
      'Invalid server host: "1:2:3:4:5:6:7" is not an IPv6 address',
    ],
    [
      "1:2:3:4:5:6:7:8:9",
      'Invalid server host: "1:2:3:4:5:6:7:8:9" is not an IPv6 address',
    ],
    [
      "1:2:3:4:5:6:7::8",
      'Invalid server host: "1:2:3:4:5:6:7::8" is not an IPv6 address',
    ],
    ["::1.2.3", 'Invalid server host: "::1.2.3" is not an IPv6 address'],
    [
      "localhost:5000",
      'Invalid server host: "localhost:5000" includes a port; give the port as the next argument',
    ],
    ["[::1", 'Invalid server host: "[::1" is not an IPv6 address in brackets'],
    ["::1]", 'Invalid server host: "::1]" is not an IPv6 address in brackets'],
    ["[]", 'Invalid server host: "[]" is not an IPv6 address in brackets'],
    [
      "[localhost]",
      'Invalid server host: "[localhost]" is not an IPv6 address in brackets',
    ],
    [
      "[127.0.0.1]",
      'Invalid server host: "[127.0.0.1]" is not an IPv6 address in brackets',
    ],
    ["-host", 'Invalid server host: "-host" is not a host name'],
    ["host-", 'Invalid server host: "host-" is not a host name'],
    ["a..b", 'Invalid server host: "a..b" is not a host name'],
    [".", 'Invalid server host: "." is not an IPv4 address'],
    [
      "under_score.org",
      'Invalid server host: "under_score.org" is not a host name',
    ],
    ["has space", 'Invalid server host: "has space" is not a host name'],
    ["http://x", 'Invalid server host: "http://x" is not an IPv6 address'],
    [
      "127.0.0.1:5000",
      'Invalid server host: "127.0.0.1:5000" includes a port; give the port as the next argument',
    ],
    [
      `${"a".repeat(64)}.org`,
      `Invalid server host: "${"a".repeat(64)}.org" is not a host name`,
    ],
    [
      Array(128).fill("a").join("."),
      `Invalid server host: "${
        Array(128).fill("a").join(".")
      }" is not a host name`,
    ],
  ];
  for (const [host, want] of cases) {
    assertEquals(
      error(["-c", "--", "alice", host, "5000", "6000"]),
      want,
      host,
    );
  }
});

Deno.test("parseCommandLine(): errors are one sentence-case line without a final full stop", () => {
  const bad = [
    [],
    ["-x"],
    ["-s"],
    ["-s", "0"],
    ["-s", "1", "2"],
    ["-s", "1", "--no-bell"],
    ["-s", "1", "-c"],
    ["-c", "a"],
    ["-c", "a b", "localhost", "1", "2"],
    ["-c", "a", "", "1", "2"],
    ["-c", "a", "localhost", "1", "2", "--exec"],
  ];
  for (const args of bad) {
    const line = firstLine(args);
    assertMatch(line, /^[A-Z]/, line);
    assert(!line.endsWith("."), line);
  }
});

Deno.test("parseCommandLine(): the input array is not changed", () => {
  const args = Object.freeze([
    "-c",
    "a",
    "localhost",
    "5000",
    "0",
    "--exec",
    "x",
  ]);
  assertEquals(
    parseCommandLine(args),
    client({
      name: "a",
      clientPort: 0,
      exec: ["x"],
    }),
  );
});

Deno.test("parseCommandLine(): every error is one line", () => {
  const bad = [
    [],
    ["-s"],
    ["-s", "1", "2"],
    ["-c"],
    ["-c", "a", "localhost", "1", "2", "3"],
    ["--bogus"],
  ];
  for (const args of bad) {
    const e = error(args);
    assert(!e.includes("\n"), JSON.stringify(e));
  }
});

Deno.test("parseCommandLine(): -s5000 is -s 5000, and options take --opt=value", () => {
  assertEquals(parseCommandLine(["-s5000"]), {
    mode: "server",
    port: 5000,
    json: false,
  });
  assertEquals(parseCommandLine(["--json", "-s5000"]), {
    mode: "server",
    port: 5000,
    json: true,
  });
  assertEquals(
    error(["-s70000"]),
    'Invalid server port: "70000" is not between 1 and 65535',
  );
  assertEquals(
    parseCommandLine([
      "-c",
      "alice",
      "localhost",
      "5000",
      "0",
      "--exec=send_all a=b",
    ]),
    client({ clientPort: 0, exec: ["send_all a=b"] }),
  );
  // An empty --exec= is a command (which the client refuses), not a missing one.
  assertEquals(
    parseCommandLine(["-c", "alice", "localhost", "5000", "6000", "--exec="]),
    client({ exec: [""] }),
  );
});

Deno.test("parseCommandLine(): spellings that are not udpchat's are unknown options", () => {
  for (
    const bad of [
      "--s",
      "--c",
      "--h",
      "--V",
      "-j",
      "-hV",
      "--help=1",
      "--exec-x",
    ]
  ) {
    assertEquals(
      firstLine(["-s", "5000", bad]),
      `Unknown option: ${bad} (try --help)`,
      bad,
    );
  }
  assertEquals(
    error(["-s", "5000", "--no-bell=yes"]),
    "Unknown option: --no-bell=yes (try --help)",
  );
});

Deno.test("parseCommandLine(): -- ends the options, also before a port", () => {
  assertEquals(parseCommandLine(["-s", "--", "5000"]), {
    mode: "server",
    port: 5000,
    json: false,
  });
  assertEquals(
    error(["-s", "--", "--json"]),
    'Invalid server port: "--json" is not a whole number between 1 and 65535',
  );
});

Deno.test("parseCommandLine(): -h and -V are in the help", () => {
  assertMatch(HELP_TEXT, /-h, --help/);
  assertMatch(HELP_TEXT, /-V, --version/);
});

Deno.test("parseCommandLine() reads --store, --bind, --keepalive and --failover, each on its side", () => {
  assertEquals(
    parseCommandLine(["-s", "5000", "--store", "nats://127.0.0.1:4222"]),
    {
      mode: "server",
      port: 5000,
      json: false,
      store: "nats://127.0.0.1:4222",
    },
  );
  assertEquals(parseCommandLine(["-s", "5000", "--bind=::1"]), {
    mode: "server",
    port: 5000,
    json: false,
    bind: "::1",
  });
  assertEquals(parseCommandLine(["-s", "5000", "--store", "redis://x"]), {
    error:
      'Invalid store: "redis://x" (memory, or nats://HOST:PORT[,nats://HOST:PORT...])',
  });
  // A NATS URL without a host or a port is a usage error (status 2), found
  // before anything connects.
  assertEquals(parseCommandLine(["-s", "5000", "--store", "nats://"]), {
    error:
      'Invalid store: bad NATS server URL "nats://": expected nats://HOST:PORT',
  });
  const client = parseCommandLine([
    "-c",
    "userA",
    "localhost",
    "5000",
    "0",
    "--keepalive",
    "1",
    "--failover",
    "127.0.0.1:5001",
    "--failover=[::1]:5002",
  ]);
  assertEquals(client, {
    mode: "client",
    name: "userA",
    host: "localhost",
    serverPort: 5000,
    clientPort: 0,
    json: false,
    exec: [],
    bell: true,
    color: true,
    keepalive: 1,
    failover: [{ host: "127.0.0.1", port: 5001 }, {
      host: "[::1]",
      port: 5002,
    }],
  });
  assertEquals(
    parseCommandLine(["-c", "a", "localhost", "5000", "0", "--store", "x"]),
    { error: "Not a client option: --store" },
  );
  assertEquals(parseCommandLine(["-s", "5000", "--failover", "h:1"]), {
    error: "Not a server option: --failover",
  });
  assertEquals(
    parseCommandLine(["-c", "a", "localhost", "5000", "0", "--keepalive", "0"]),
    { error: 'Invalid keepalive: "0" must be 1 to 3600 seconds' },
  );
});
