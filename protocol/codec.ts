/**
 * Strict decoding and validation of udpchat datagrams; their encoding
 * (`encoding.ts`) is re-exported here.
 *
 * @module
 */
import {
  MAX_CHUNK_BYTES,
  MAX_DATAGRAM_BYTES,
  MAX_PARTS,
  PROTOCOL_VERSION,
} from "./constants.ts";
import type {
  AckResult,
  ErrorCode,
  Message,
  MessageType,
  NoteKind,
  TextPart,
} from "./messages.ts";
import {
  b64,
  type Fields,
  flag,
  name,
  optional,
  str,
  uint,
} from "./_validate.ts";
import { readRows, readSummary, readTable } from "./codec_table.ts";
import { CHALLENGE_CHARS, PUBLIC_KEY_CHARS, SIGNATURE_CHARS } from "./claim.ts";
import { AGREEMENT_KEY_CHARS } from "./e2e_crypto.ts";

export { isValidName } from "./_validate.ts";
export { encodeMessage, peekType } from "./encoding.ts";

/** Why a datagram was dropped by {@linkcode decodeMessage}. */
export type DropReason =
  | "oversize"
  | "utf8"
  | "json"
  | "version"
  | "type"
  | "field"
  /**
   * A sealed datagram (protocol/transit_crypto.ts) that did not open:
   * truncated, tampered with, under another key, or with no session keyed.
   */
  | "sealed"
  /** A plaintext datagram, of a kind that must be sealed, from a keyed session. */
  | "plaintext";

/** The result of {@linkcode decodeMessage}. */
export type DecodeResult =
  | { ok: true; message: Message }
  | { ok: false; reason: DropReason };

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes and validates one datagram. Never throws: anything malformed,
 * oversize, of another version or of an unknown type is reported as dropped.
 *
 * @param bytes The datagram's payload.
 * @returns The message, or the reason it was dropped.
 *
 * @example Usage
 * ```ts
 * import { decodeMessage } from "./codec.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const result = decodeMessage(new Uint8Array([0xff, 0x00]));
 * assertEquals(result, { ok: false, reason: "utf8" });
 * ```
 */
export function decodeMessage(bytes: Uint8Array): DecodeResult {
  if (bytes.length > MAX_DATAGRAM_BYTES) return drop("oversize");
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return drop("utf8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return drop("json");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return drop("json");
  }
  const o = value as Fields;
  if (o.v !== PROTOCOL_VERSION) return drop("version");
  const message = readMessage(o);
  if (message === "type") return drop("type");
  return message === undefined ? drop("field") : { ok: true, message };
}

function drop(reason: DropReason): DecodeResult {
  return { ok: false, reason };
}

const TOKEN_MAX = 64;
const KEY_MAX = 80;
const STAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;
// Every code and kind once; the Record type makes the compiler check that
// each list matches its union exactly.
const ERROR_CODE_SET: Readonly<Record<ErrorCode, true>> = {
  bad_name: true,
  name_in_use: true,
  not_registered: true,
  unknown_user: true,
  full: true,
  too_big: true,
  offline: true,
  store_unavailable: true,
  quota: true,
  confusable: true,
  claimed: true,
};
const NOTE_KIND_SET: Readonly<Record<NoteKind, true>> = {
  noack: true,
  dlv: true,
  rcv: true,
  saved: true,
  refused: true,
  done: true,
};
const ACK_RESULT_SET: Readonly<Record<AckResult, true>> = {
  saved: true,
  pending: true,
  held: true,
};
const ACK_RESULTS: ReadonlySet<string> = new Set(Object.keys(ACK_RESULT_SET));
const ERROR_CODES: ReadonlySet<string> = new Set(Object.keys(ERROR_CODE_SET));
const NOTE_KINDS: ReadonlySet<string> = new Set(Object.keys(NOTE_KIND_SET));
const BOOT_MAX = 16;

function stamp(o: Fields, key: string): string | undefined {
  const v = str(o, key, 19);
  return v !== undefined && STAMP.test(v) ? v : undefined;
}

function part(o: Fields): TextPart | undefined {
  const k = str(o, "k", KEY_MAX);
  const pi = uint(o, "pi");
  const pn = uint(o, "pn");
  const text = str(o, "text", MAX_CHUNK_BYTES);
  if (k === undefined || k === "" || pi === undefined || pn === undefined) {
    return undefined;
  }
  if (text === undefined || pn < 1 || pn > MAX_PARTS || pi >= pn) {
    return undefined;
  }
  // Sealed (private messages only): present only as 1.
  if (o.e !== undefined && o.e !== 1) return undefined;
  return o.e === 1 ? { k, pi, pn, text, e: 1 } : { k, pi, pn, text };
}

// Returns the message, undefined for a bad field, or "type" for an unknown type.
function readMessage(o: Fields): Message | undefined | "type" {
  const id = uint(o, "id");
  const t = o.t;
  if (typeof t !== "string") return "type";
  if (id === undefined) return KNOWN.has(t) ? undefined : "type";
  switch (t) {
    case "reg": {
      const nm = name(o, "name");
      const ck = optional(o, "ck", (f, k) => str(f, k, TOKEN_MAX));
      const tok = optional(o, "tok", (f, k) => str(f, k, TOKEN_MAX));
      if (nm === undefined || !ck.ok || !tok.ok) return undefined;
      // Present only as 1: any other value is malformed.
      if (o.transient !== undefined && o.transient !== 1) return undefined;
      const pk = optional(o, "pk", (f, k) => b64(f, k, PUBLIC_KEY_CHARS));
      const ch = optional(o, "ch", (f, k) => b64(f, k, CHALLENGE_CHARS));
      const sig = optional(o, "sig", (f, k) => b64(f, k, SIGNATURE_CHARS));
      const xk = optional(o, "xk", (f, k) => b64(f, k, AGREEMENT_KEY_CHARS));
      if (!pk.ok || !ch.ok || !sig.ok || !xk.ok) return undefined;
      // A challenge and a signature come only with a key, and together.
      if ((ch.value === undefined) !== (sig.value === undefined)) {
        return undefined;
      }
      if (ch.value !== undefined && pk.value === undefined) return undefined;
      const m: Message = { t, id, name: nm };
      if (ck.value !== undefined) m.ck = ck.value;
      if (tok.value !== undefined) m.tok = tok.value;
      if (o.transient === 1) m.transient = 1;
      if (pk.value !== undefined) m.pk = pk.value;
      if (ch.value !== undefined) m.ch = ch.value;
      if (sig.value !== undefined) m.sig = sig.value;
      if (xk.value !== undefined) m.xk = xk.value;
      return m;
    }
    case "dereg": {
      const nm = name(o, "name");
      const tok = str(o, "tok", TOKEN_MAX);
      const sig = optional(o, "sig", (f, k) => b64(f, k, SIGNATURE_CHARS));
      if (nm === undefined || tok === undefined || !sig.ok) return undefined;
      const m: Message = { t, id, name: nm, tok };
      if (sig.value !== undefined) m.sig = sig.value;
      return m;
    }
    case "all": {
      const tok = str(o, "tok", TOKEN_MAX);
      const p = part(o);
      // Group text is never sealed: the server prints it.
      return tok === undefined || p === undefined || p.e !== undefined
        ? undefined
        : { t, id, tok, ...p };
    }
    case "save": {
      const tok = str(o, "tok", TOKEN_MAX);
      const to = name(o, "to");
      const p = part(o);
      return tok === undefined || to === undefined || p === undefined
        ? undefined
        : { t, id, tok, to, ...p };
    }
    case "who": {
      const tok = str(o, "tok", TOKEN_MAX);
      const nm = name(o, "name");
      return tok === undefined || nm === undefined
        ? undefined
        : { t, id, tok, name: nm };
    }
    case "sync":
    case "ka": {
      const tok = str(o, "tok", TOKEN_MAX);
      return tok === undefined ? undefined : { t, id, tok };
    }
    case "ack": {
      const r = o.r;
      if (r !== undefined && (typeof r !== "string" || !ACK_RESULTS.has(r))) {
        return undefined;
      }
      const at = optional(o, "at", stamp);
      const boot = optional(o, "boot", (f, k) => str(f, k, BOOT_MAX));
      const rs = o.rows === undefined ? undefined : readRows(o);
      if (!at.ok || !boot.ok) return undefined;
      if (o.rows !== undefined && rs?.length !== 1) return undefined;
      const m: Message = { t, id };
      if (rs !== undefined) m.rows = rs;
      if (r !== undefined) m.r = r as AckResult;
      if (at.value !== undefined) m.at = at.value;
      if (boot.value !== undefined) m.boot = boot.value;
      return m;
    }
    case "retry": {
      const ck = str(o, "ck", TOKEN_MAX);
      const ch = optional(o, "ch", (f, k) => b64(f, k, CHALLENGE_CHARS));
      if (ck === undefined || !ch.ok) return undefined;
      const m: Message = { t, id, ck };
      if (ch.value !== undefined) m.ch = ch.value;
      return m;
    }
    case "welcome": {
      const tok = str(o, "tok", TOKEN_MAX);
      const off = uint(o, "off");
      const o0 = optional(o, "o0", uint);
      const boot = optional(o, "boot", (f, k) => str(f, k, BOOT_MAX));
      if (tok === undefined || off === undefined || !o0.ok || !boot.ok) {
        return undefined;
      }
      const sk = optional(o, "sk", (f, k) => b64(f, k, AGREEMENT_KEY_CHARS));
      if (!sk.ok) return undefined;
      const m: Message = { t, id, tok, off };
      if (o0.value !== undefined) m.o0 = o0.value;
      if (boot.value !== undefined) m.boot = boot.value;
      if (sk.value !== undefined) m.sk = sk.value;
      return m;
    }
    case "err": {
      const code = o.code;
      if (typeof code !== "string" || !ERROR_CODES.has(code)) return undefined;
      const nm = optional(o, "name", name);
      const boot = optional(o, "boot", (f, k) => str(f, k, BOOT_MAX));
      const at = optional(o, "at", stamp);
      if (!nm.ok || !boot.ok || !at.ok) return undefined;
      const m: Message = { t, id, code: code as ErrorCode };
      if (nm.value !== undefined) m.name = nm.value;
      if (boot.value !== undefined) m.boot = boot.value;
      if (at.value !== undefined) m.at = at.value;
      return m;
    }
    case "tbl":
      return readTable(o, id);
    case "sum":
      return readSummary(o, id);
    case "msg": {
      const from = name(o, "from");
      const g = flag(o, "g");
      const p = part(o);
      const at = optional(o, "at", stamp);
      const off = optional(o, "o", uint);
      if (from === undefined || g === undefined || p === undefined) {
        return undefined;
      }
      if (g === 1 && p.e !== undefined) return undefined;
      if (
        !at.ok || !off.ok ||
        (at.value === undefined) !== (off.value === undefined)
      ) {
        return undefined;
      }
      const m: Message = { t, id, from, g, ...p };
      if (at.value !== undefined) m.at = at.value;
      if (off.value !== undefined) m.o = off.value;
      return m;
    }
    case "note": {
      const k = o.k;
      const nm = name(o, "name");
      const ref = str(o, "ref", KEY_MAX);
      const at = optional(o, "at", stamp);
      const why = o.why;
      if (typeof k !== "string" || !NOTE_KINDS.has(k)) return undefined;
      if (nm === undefined || ref === undefined || !at.ok) return undefined;
      if (why !== undefined && why !== "full" && why !== "store_unavailable") {
        return undefined;
      }
      const m: Message = { t, id, k: k as NoteKind, name: nm, ref };
      if (at.value !== undefined) m.at = at.value;
      if (why !== undefined) m.why = why;
      return m;
    }
    case "ping":
      return { t, id };
    default:
      return "type";
  }
}

const MESSAGE_TYPE_SET: Readonly<Record<MessageType, true>> = {
  reg: true,
  dereg: true,
  all: true,
  save: true,
  sync: true,
  ka: true,
  who: true,
  ack: true,
  retry: true,
  welcome: true,
  err: true,
  tbl: true,
  sum: true,
  msg: true,
  note: true,
  ping: true,
};

/**
 * The `t` of every message type of this protocol version, derived from the
 * {@linkcode Message} union (the compiler checks the list is complete).
 */
export const MESSAGE_TYPES: readonly MessageType[] = Object.keys(
  MESSAGE_TYPE_SET,
) as MessageType[];

const KNOWN: ReadonlySet<string> = new Set(MESSAGE_TYPES);
