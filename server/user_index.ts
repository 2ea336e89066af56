/**
 * The user index: every registered user by name, by session token and by
 * address, the confusable skeletons (UTS #39, plain and caseless) of every
 * registered name, how many are Online, and the registration order of the next new one. It keeps
 * the indexes consistent; the rules of who may register (`sessions.ts`) and
 * of going Offline (`going_offline.ts`) are elsewhere.
 *
 * @module
 */
import { type Address, addressKey, sameAddress } from "../protocol/address.ts";
import { caselessSkeleton, skeleton } from "../protocol/confusables.ts";
import type { User, UserDirectory } from "./user.ts";

/**
 * The registered users and their indexes.
 *
 * @example Usage
 * ```ts
 * import { UserIndex } from "./user_index.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const index = new UserIndex();
 * const address = { hostname: "127.0.0.1", port: 5001 };
 * const user = { name: "userA", order: index.takeOrder(), address, online: false, token: "", probing: false };
 * index.add(user);
 * index.setToken(user, "t0k");
 * assertEquals(index.authenticate("t0k", address), user);
 * assertEquals(index.onlineCount, 0);
 * ```
 */
export class UserIndex implements UserDirectory {
  #users = new Map<string, User>();
  #byToken = new Map<string, User>();
  #byAddress = new Map<string, User>();
  // The confusable skeleton (UTS #39) of every registered name, to its name;
  // and its caseless skeleton (`userD` and `userd`), to its name.
  #skeletons = new Map<string, string>();
  #caseless = new Map<string, string>();
  #online = 0;
  // Registration order of the next new user (rows may be removed).
  #nextOrder = 0;

  /** How many users are registered. */
  get size(): number {
    return this.#users.size;
  }

  /** How many users are Online. */
  get onlineCount(): number {
    return this.#online;
  }

  /** The registration order the next new user will get. */
  get nextOrder(): number {
    return this.#nextOrder;
  }

  /** Takes the next registration order (from 0). */
  takeOrder(): number {
    return this.#nextOrder++;
  }

  /** The user with this name, if registered. */
  get(name: string): User | undefined {
    return this.#users.get(name);
  }

  /** Every registered user, in registration order. */
  all(): Iterable<User> {
    return this.#users.values();
  }

  /** Whether an address is proven: a user is Online there. */
  isProven(address: Address): boolean {
    return this.#byAddress.get(addressKey(address))?.online === true;
  }

  /** The user registered at an address, if any (for its transit keys). */
  userAt(address: Address): User | undefined {
    return this.#byAddress.get(addressKey(address));
  }

  /** The user a token belongs to, if it is used from that user's address. */
  authenticate(token: string, from: Address): User | undefined {
    const user = this.#byToken.get(token);
    return user !== undefined && sameAddress(user.address, from)
      ? user
      : undefined;
  }

  /**
   * The registered (or reserved) name a name is a lookalike of, if any:
   * the same confusable skeleton (`userА` beside `userA`, `userI` beside
   * `userl`) or the same caseless one (`userd` beside `userD`), UTS #39
   * section 4 (`protocol/confusables.ts`). Callers ask about names not
   * registered: a registered name is its own lookalike.
   */
  lookalike(name: string): string | undefined {
    return this.#skeletons.get(skeleton(name)) ??
      this.#caseless.get(caselessSkeleton(name));
  }

  /** Reserves a name's skeletons: no lookalike of it may register. */
  reserve(name: string): void {
    this.#skeletons.set(skeleton(name), name);
    this.#caseless.set(caselessSkeleton(name), name);
  }

  /**
   * Releases a name's skeletons (a held claim refused, a name forgotten);
   * a skeleton another name holds is kept.
   */
  release(name: string): void {
    const plain = skeleton(name);
    if (this.#skeletons.get(plain) === name) this.#skeletons.delete(plain);
    const caseless = caselessSkeleton(name);
    if (this.#caseless.get(caseless) === name) this.#caseless.delete(caseless);
  }

  /** Adds a new user under its name (its skeleton is reserved first). */
  add(user: User): void {
    this.#users.set(user.name, user);
  }

  /** Marks a user Online or Offline, keeping the count. */
  setOnline(user: User, online: boolean): void {
    if (user.online !== online) this.#online += online ? 1 : -1;
    user.online = online;
  }

  /** Gives a user a new session token; the old one no longer authenticates. */
  setToken(user: User, token: string): void {
    if (user.token !== "") this.#byToken.delete(user.token);
    user.token = token;
    this.#byToken.set(token, user);
  }

  /** Whether a user is indexed at `address` already. */
  isAt(user: User, address: Address): boolean {
    return sameAddress(user.address, address) &&
      this.#byAddress.get(addressKey(address)) === user;
  }

  /** Stops indexing a user at its address (it is moving). */
  unbindAddress(user: User): void {
    const key = addressKey(user.address);
    if (this.#byAddress.get(key) === user) this.#byAddress.delete(key);
  }

  /** Indexes a user at `address`, its address from now on. */
  bindAddress(user: User, address: Address): void {
    user.address = address;
    this.#byAddress.set(addressKey(address), user);
  }

  /** Removes an Offline user: its name, skeletons, token and address. */
  remove(user: User): void {
    this.#users.delete(user.name);
    this.release(user.name);
    if (user.token !== "") this.#byToken.delete(user.token);
    this.unbindAddress(user);
  }
}
