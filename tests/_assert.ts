/**
 * Assertions for tests, built on `node:assert` (JSR's `@std/assert` is not
 * reachable from these machines).
 *
 * @module
 */
import assert from "node:assert/strict";

/** Asserts that `actual` deeply equals `expected`. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): void {
  assert.deepStrictEqual(actual, expected, msg);
}

/** Asserts that `actual` does not deeply equal `expected`. */
export function assertNotEquals(
  actual: unknown,
  expected: unknown,
  msg?: string,
): void {
  assert.notDeepStrictEqual(actual, expected, msg);
}

/** Asserts that `value` is truthy. */
export function assert_(value: unknown, msg?: string): asserts value {
  assert.ok(value, msg);
}
export { assert_ as assert };

/** Asserts that `actual` contains `expected`. */
export function assertStringIncludes(
  actual: string,
  expected: string,
  msg?: string,
): void {
  assert.ok(
    actual.includes(expected),
    msg ??
      `expected ${JSON.stringify(actual)} to include ${
        JSON.stringify(expected)
      }`,
  );
}

/** Asserts that `fn` throws, and returns the error. */
export function assertThrows(fn: () => unknown, msg?: string): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new assert.AssertionError({
    message: msg ?? "expected function to throw",
  });
}

/** Asserts that `value` matches `re`. */
export function assertMatch(value: string, re: RegExp, msg?: string): void {
  assert.match(value, re, msg);
}

/** Asserts that the promise `fn` returns rejects, and returns the error. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  msg?: string,
): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new assert.AssertionError({
    message: msg ?? "expected promise to reject",
  });
}
