/**
 * `--claim` (issue 14): the passphrase, asked without echo on a terminal or
 * read from the first line of standard input, and the keys derived from it
 * and the name with WebCrypto. Neither the passphrase nor any hash of it
 * leaves this process: only the Ed25519 public key and signatures do.
 *
 * @module
 */
import { type ClaimKey, claimKeyFromSeed } from "../protocol/claim.ts";

/** PBKDF2-SHA-256 rounds (OWASP 2023's figure for SHA-256); ~0.12 s here. */
export const CLAIM_ROUNDS = 600_000;

const encoder = new TextEncoder();

/**
 * Derives a claimed name's keys: PBKDF2-SHA-256 (RFC 8018) of the passphrase
 * salted with the name (NFC), then HKDF-SHA-256 (RFC 5869) to a 32-byte
 * Ed25519 seed (info `ed25519`) and a 32-byte X25519 secret (info `x25519`).
 *
 * @param passphrase The passphrase, as typed (NFC-normalised here).
 * @param name The name it protects.
 * @returns The signing key and the X25519 secret.
 */
export async function deriveClaimKeys(
  passphrase: string,
  name: string,
): Promise<{ signing: ClaimKey; x25519: Uint8Array }> {
  const base = await crypto.subtle.importKey(
    "raw",
    encoder.encode(passphrase.normalize("NFC")),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const master = await crypto.subtle.deriveBits(
    {
      name: "PBKDF2",
      hash: "SHA-256",
      salt: encoder.encode(`udpchat/1 claim\0${name.normalize("NFC")}`),
      iterations: CLAIM_ROUNDS,
    },
    base,
    256,
  );
  const hkdf = await crypto.subtle.importKey("raw", master, "HKDF", false, [
    "deriveBits",
  ]);
  const expand = async (info: string) =>
    new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: new Uint8Array(0),
          info: encoder.encode(info),
        },
        hkdf,
        256,
      ),
    );
  return {
    signing: claimKeyFromSeed(await expand("ed25519")),
    x25519: await expand("x25519"),
  };
}

/**
 * Splits a stream after its first line: the line (without `\n` or `\r\n`)
 * and a stream of everything after it.
 *
 * @param input The stream (standard input when it is not a terminal).
 * @returns The first line ("" at once-ended input) and the rest.
 */
export async function firstLine(
  input: ReadableStream<Uint8Array>,
): Promise<{ line: string; rest: ReadableStream<Uint8Array> }> {
  const reader = input.getReader();
  let buffered = new Uint8Array(0);
  let nl = -1;
  let ended = false;
  while (nl < 0) {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    const next = new Uint8Array(buffered.length + value.length);
    next.set(buffered);
    next.set(value, buffered.length);
    buffered = next;
    nl = buffered.indexOf(10);
  }
  const end = nl < 0 ? buffered.length : nl;
  const line = new TextDecoder().decode(buffered.subarray(0, end))
    .replace(/\r$/, "");
  const leftover = nl < 0 ? new Uint8Array(0) : buffered.slice(nl + 1);
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (leftover.length > 0) controller.enqueue(leftover);
      if (ended) controller.close();
    },
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { line, rest };
}

/**
 * Asks for the passphrase on the terminal without echo (raw mode), on
 * standard error. Enter ends it; Backspace deletes; Ctrl+C or Ctrl+D
 * abandons (undefined).
 *
 * @param name The name, for the prompt.
 * @returns The passphrase, or undefined when abandoned.
 */
export async function promptPassphrase(
  name: string,
): Promise<string | undefined> {
  Deno.stderr.writeSync(encoder.encode(`Passphrase for ${name}: `));
  Deno.stdin.setRaw(true);
  const chars: number[] = [];
  const buf = new Uint8Array(64);
  try {
    while (true) {
      const n = await Deno.stdin.read(buf);
      if (n === null) return undefined;
      for (const b of buf.subarray(0, n)) {
        if (b === 3 || b === 4) return undefined;
        if (b === 13 || b === 10) {
          return new TextDecoder().decode(Uint8Array.from(chars));
        }
        if (b === 127 || b === 8) {
          // Drop a whole UTF-8 character.
          while (chars.length > 0 && (chars.pop()! & 0xc0) === 0x80);
        } else chars.push(b);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
}
