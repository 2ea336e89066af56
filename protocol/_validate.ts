// Field readers for the decoder. Each returns the value or undefined; none throws.
import { MAX_NAME_LENGTH } from "./constants.ts";

/** A parsed JSON object with unknown fields. */
export type Fields = Record<string, unknown>;

/** A non-negative safe integer id. */
export function uint(o: Fields, key: string): number | undefined {
  const v = o[key];
  // `+ 0` turns a -0 (valid JSON) into 0.
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0
    ? v + 0
    : undefined;
}

/** A string of at most `max` UTF-16 code units. */
export function str(o: Fields, key: string, max: number): string | undefined {
  const v = o[key];
  return typeof v === "string" && v.length <= max ? v : undefined;
}

const NAME = /^[\p{L}\p{N}_.-]+$/u;

/** Whether `name` is a valid user name: 1 to 32 letters, digits, `_`, `.` or `-`. */
export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

/**
 * A valid user name, in NFC (UTS #39 / UAX #15): a name is compared and kept
 * in one form, whatever form it arrived in.
 */
export function name(o: Fields, key: string): string | undefined {
  const v = o[key];
  if (typeof v !== "string") return undefined;
  const nfc = v.length <= 4 * MAX_NAME_LENGTH ? v.normalize("NFC") : v;
  return isValidName(nfc) ? nfc : undefined;
}

/** A 0 or 1 flag; absent counts as 0. */
export function flag(o: Fields, key: string): 0 | 1 | undefined {
  const v = o[key];
  if (v === undefined || v === 0) return 0;
  return v === 1 ? 1 : undefined;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Base64url (RFC 4648 section 5) of exactly `length` characters: a key, a
 * challenge or a signature.
 */
export function b64(
  o: Fields,
  key: string,
  length: number,
): string | undefined {
  const v = str(o, key, length);
  return v !== undefined && v.length === length && BASE64URL.test(v)
    ? v
    : undefined;
}

/**
 * An optional field: absent is fine (`value` undefined, `ok` true); present,
 * it must pass `read` (else `ok` is false).
 */
export function optional<T>(
  o: Fields,
  key: string,
  read: (o: Fields, key: string) => T | undefined,
): { value: T | undefined; ok: boolean } {
  if (o[key] === undefined) return { value: undefined, ok: true };
  const value = read(o, key);
  return { value, ok: value !== undefined };
}
