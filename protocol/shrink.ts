/**
 * When a map gives its memory back (issue 13, "Memory that returns"): a JS
 * `Map` keeps the hash table of the most entries it ever held, whatever is
 * deleted, so a map that grew under an attack is rebuilt (its live entries
 * copied into a new `Map`, in order) once it holds few of them.
 *
 * @module
 */

/**
 * A map that held at least this many entries is rebuilt once it holds
 * fewer than a quarter of its peak: a JS `Map` keeps the hash table of its
 * peak size, whatever is deleted.
 */
export const SHRINK_MIN_PEAK = 4_096;

/**
 * Whether a map of `size` entries, whose peak since it was last rebuilt is
 * `peak`, should be rebuilt (copied into a new `Map`): the peak was at
 * least {@linkcode SHRINK_MIN_PEAK} and it now holds under a quarter of it.
 *
 * @param size Entries now.
 * @param peak Most entries since it was made or last rebuilt.
 * @returns True when a rebuild gives memory back.
 *
 * @example Usage
 * ```ts
 * import { shouldShrink } from "./shrink.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(shouldShrink(1_000, 8_192), true);
 * assertEquals(shouldShrink(1_000, 2_048), false);
 * ```
 */
export function shouldShrink(size: number, peak: number): boolean {
  return peak >= SHRINK_MIN_PEAK && size * 4 < peak;
}

/**
 * The peak size of a map (or of maps kept together) since it was made or
 * last rebuilt, and the decision to rebuild ({@linkcode shouldShrink}).
 *
 * @example Usage
 * ```ts
 * import { PeakSize } from "./shrink.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const peak = new PeakSize();
 * peak.grew(8_192);
 * assertEquals(peak.rebuild(4_000), false);
 * assertEquals(peak.rebuild(1_000), true); // rebuild now; the peak is 1,000
 * assertEquals(peak.rebuild(1_000), false);
 * ```
 */
export class PeakSize {
  #peak = 0;

  /** Notes the size after entries were added (entries). */
  grew(size: number): void {
    if (size > this.#peak) this.#peak = size;
  }

  /**
   * Whether the map should be rebuilt now at `size` entries; when it should,
   * the peak starts again from `size` (the rebuilt map's).
   */
  rebuild(size: number): boolean {
    if (!shouldShrink(size, this.#peak)) return false;
    this.#peak = size;
    return true;
  }
}
