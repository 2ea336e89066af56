// Small statistics and formatting helpers for the benchmark suite.

/** The p-th percentile (nearest rank) of some numbers. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length) - 1;
  return s[Math.min(s.length - 1, Math.max(0, rank))];
}

/** The median of some numbers. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Milliseconds, with three decimals under 1 ms. */
export function fmtMs(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return "-";
  if (x >= 10_000) return `${(x / 1000).toFixed(1)} s`;
  return `${x.toFixed(x < 1 ? 3 : x < 100 ? 1 : 0)} ms`;
}

/** A count with thousands separators. */
export function fmtInt(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

/** Bytes as B, KB or MB (decimal). */
export function fmtBytes(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)} MB`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(0)} KB`;
  return `${fmtInt(x)} B`;
}

/** A ratio as `1.23×`. */
export function fmtRatio(x: number): string {
  if (!Number.isFinite(x)) return "-";
  return `${x.toFixed(x >= 100 ? 0 : 2)}×`;
}

/** Whether `p` settles within `ms` milliseconds (its timer is cleared either way). */
export async function within(
  p: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
