// A binary min-heap of timed entries, ordered by `at`.

/** An entry in the heap. */
export interface Timed {
  at: number;
}

/** A binary min-heap ordered by `at`. */
export class MinHeap<T extends Timed> {
  #items: T[] = [];

  /** Number of entries, stale ones included. */
  get size(): number {
    return this.#items.length;
  }

  /** The earliest entry, if any. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Adds an entry. */
  push(item: T): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].at <= a[i].at) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }

  /** Removes and returns the earliest entry. */
  pop(): T | undefined {
    const a = this.#items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l].at < a[m].at) m = l;
        if (r < a.length && a[r].at < a[m].at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}
