/**
 * The table's version and its change log: which user's row changed at each
 * version, so that a client behind by a few versions gets a delta (the rows
 * changed since the version it ACKed) rather than the whole table. The log
 * keeps at most `CHANGE_LOG_MAX` entries, dropping the oldest
 * `CHANGE_LOG_TRIM` when full; a client older than the log gets a snapshot.
 *
 * @module
 */
import { CHANGE_LOG_MAX, CHANGE_LOG_TRIM } from "./constants.ts";

/** The table's versions and what changed at each. */
export class ChangeLog {
  #version: number;
  // `gone`: the change removed the row (a transient session left);
  // `quiet`: it changed no printed field (`changed`).
  #log: { version: number; name: string; gone?: true; quiet?: true }[] = [];

  /**
   * @param options `base`: the version before the first change (default
   * 0; a leader of a NATS-backed chat starts above every earlier leader's,
   * chat_identity.ts `tableVersionBase`).
   */
  constructor(options: { base?: number } = {}) {
    this.#version = options.base ?? 0;
  }

  /** The table's current version (the base before any change). */
  get version(): number {
    return this.#version;
  }

  /** The oldest version a delta can start from. */
  get base(): number {
    return this.#log.length > 0 ? this.#log[0].version - 1 : this.#version;
  }

  /**
   * A user's row changed (or was added).
   *
   * @param name The user's name.
   * @param options `quiet`: the change alters no printed field (a re-login
   * from the same address: only the key changed), so no client prints it.
   * @returns The new version.
   */
  changed(name: string, options: { quiet?: boolean } = {}): number {
    this.#version++;
    this.#log.push(
      options.quiet === true
        ? { version: this.#version, name, quiet: true }
        : { version: this.#version, name },
    );
    this.#trim();
    return this.#version;
  }

  /**
   * Whether every change after `version` is quiet (and there is one): a
   * client holding `version` need not print what brings it up to date.
   *
   * @param version The version the client holds (it must be in the log).
   */
  quietSince(version: number): boolean {
    if (version < this.base || version >= this.#version) return false;
    for (
      let i = this.#log.length - 1;
      i >= 0 && this.#log[i].version > version;
      i--
    ) {
      if (this.#log[i].quiet !== true) return false;
    }
    return true;
  }

  /**
   * A user's row was removed: no delta can say it.
   *
   * @returns The new version.
   */
  removed(name: string): number {
    this.#version++;
    this.#log.push({ version: this.#version, name, gone: true });
    this.#trim();
    return this.#version;
  }

  /**
   * The names whose rows changed after `version`, newest first.
   *
   * @param version The version the client holds.
   * @param limit Most names: past it a snapshot is smaller.
   * @returns The names, or undefined when only a snapshot says what changed
   * (a row was removed, or more than `limit` changed).
   */
  changedSince(version: number, limit: number): Set<string> | undefined {
    const names = new Set<string>();
    for (
      let i = this.#log.length - 1;
      i >= 0 && this.#log[i].version > version;
      i--
    ) {
      // A removal: only a snapshot says it.
      if (this.#log[i].gone) return undefined;
      names.add(this.#log[i].name);
      if (names.size > limit) return undefined;
    }
    return names;
  }

  #trim(): void {
    if (this.#log.length > CHANGE_LOG_MAX) this.#log.splice(0, CHANGE_LOG_TRIM);
  }
}
