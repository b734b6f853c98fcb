// An in-memory order-statistic B+tree: a sorted map with O(log n) get/set/delete, rank
// (how many keys are smaller) and select (the i-th entry), plus cursors that walk the
// leaf chain in either direction. Directories (keyed by name) and file extent maps (keyed
// by file offset) both live in one of these.
//
// INVARIANTS:
// - every leaf except the root holds between #minLeaf and #maxLeaf entries, every internal
//   node except the root between #minBranch and #maxBranch children;
// - internal.keys[i] separates children[i] (all keys < keys[i]) from children[i+1]
//   (all keys >= keys[i]); separators may be stale after deletes but stay valid bounds;
// - internal.counts[i] is the number of entries below children[i];
// - leaves are doubly linked in key order.
// A cursor or iterator is invalid after any mutation of the map.

export type Compare<K> = (a: K, b: K) => number;

class Leaf<K, V> {
  keys: K[] = [];
  vals: V[] = [];
  next: Leaf<K, V> | null = null;
  prev: Leaf<K, V> | null = null;
}

class Branch<K, V> {
  keys: K[] = [];
  children: Array<Node<K, V>> = [];
  counts: number[] = [];
}

type Node<K, V> = Leaf<K, V> | Branch<K, V>;

/** A position in the map: an entry, or "past the end" / "before the start" when invalid. */
export class Cursor<K, V> {
  /** @internal */ leaf: Leaf<K, V> | null;
  /** @internal */ index: number;

  /** @internal */
  constructor(leaf: Leaf<K, V> | null, index: number) {
    this.leaf = leaf;
    this.index = index;
    this.#normalize();
  }

  get valid(): boolean {
    return this.leaf !== null;
  }

  get key(): K {
    if (this.leaf === null) throw new RangeError("cursor is not on an entry");
    return this.leaf.keys[this.index]!;
  }

  get value(): V {
    if (this.leaf === null) throw new RangeError("cursor is not on an entry");
    return this.leaf.vals[this.index]!;
  }

  next(): void {
    if (this.leaf === null) return;
    this.index++;
    this.#normalize();
  }

  prev(): void {
    if (this.leaf === null) return;
    this.index--;
    this.#normalize();
  }

  // Moves across leaf boundaries (and over empty leaves, which only an empty root can be).
  #normalize(): void {
    while (this.leaf !== null && this.index >= this.leaf.keys.length) {
      this.leaf = this.leaf.next;
      this.index = 0;
    }
    while (this.leaf !== null && this.index < 0) {
      this.leaf = this.leaf.prev;
      this.index = this.leaf === null ? 0 : this.leaf.keys.length - 1;
    }
  }
}

export class SortedMap<K, V> {
  readonly #cmp: Compare<K>;
  readonly #maxLeaf: number;
  readonly #minLeaf: number;
  readonly #maxBranch: number;
  readonly #minBranch: number;
  #root: Node<K, V> = new Leaf<K, V>();
  #size = 0;
  #added = false;

  constructor(compare: Compare<K>, options: { leafSize?: number; branchSize?: number } = {}) {
    this.#cmp = compare;
    this.#maxLeaf = Math.max(4, options.leafSize ?? 64);
    this.#maxBranch = Math.max(4, options.branchSize ?? 64);
    this.#minLeaf = this.#maxLeaf >> 1;
    this.#minBranch = this.#maxBranch >> 1;
  }

  get size(): number {
    return this.#size;
  }

  get(key: K): V | undefined {
    const leaf = this.#findLeaf(key);
    const i = this.#lowerBound(leaf.keys, key);
    return i < leaf.keys.length && this.#cmp(leaf.keys[i]!, key) === 0 ? leaf.vals[i] : undefined;
  }

  has(key: K): boolean {
    const leaf = this.#findLeaf(key);
    const i = this.#lowerBound(leaf.keys, key);
    return i < leaf.keys.length && this.#cmp(leaf.keys[i]!, key) === 0;
  }

  /** Inserts or replaces; returns true when the key was new. */
  set(key: K, value: V): boolean {
    this.#added = false;
    const split = this.#insert(this.#root, key, value);
    if (split !== null) {
      const root = new Branch<K, V>();
      root.keys = [split[0]];
      root.children = [this.#root, split[1]];
      root.counts = [this.#count(this.#root), this.#count(split[1])];
      this.#root = root;
    }
    if (this.#added) this.#size++;
    return this.#added;
  }

  /** Removes the key; returns true when it was present. */
  delete(key: K): boolean {
    if (!this.#remove(this.#root, key)) return false;
    this.#size--;
    const root = this.#root;
    if (root instanceof Branch && root.children.length === 1) this.#root = root.children[0]!;
    return true;
  }

  clear(): void {
    this.#root = new Leaf<K, V>();
    this.#size = 0;
  }

  /** Number of keys strictly less than `key`. */
  rank(key: K): number {
    let node = this.#root;
    let r = 0;
    while (node instanceof Branch) {
      const i = this.#upperBound(node.keys, key);
      for (let j = 0; j < i; j++) r += node.counts[j]!;
      node = node.children[i]!;
    }
    return r + this.#lowerBound(node.keys, key);
  }

  /** Cursor on the i-th entry (0-based), invalid when i is out of range. */
  at(index: number): Cursor<K, V> {
    if (!Number.isInteger(index) || index < 0 || index >= this.#size) return new Cursor<K, V>(null, 0);
    let node = this.#root;
    let i = index;
    while (node instanceof Branch) {
      let j = 0;
      while (i >= node.counts[j]!) i -= node.counts[j++]!;
      node = node.children[j]!;
    }
    return new Cursor(node, i);
  }

  /** Cursor on the first entry with key >= `key`. */
  lowerBound(key: K): Cursor<K, V> {
    const leaf = this.#findLeaf(key);
    return new Cursor(leaf, this.#lowerBound(leaf.keys, key));
  }

  /** Cursor on the first entry with key > `key`. */
  upperBound(key: K): Cursor<K, V> {
    const leaf = this.#findLeaf(key);
    return new Cursor(leaf, this.#upperBound(leaf.keys, key));
  }

  /** Cursor on the last entry with key <= `key`. */
  floor(key: K): Cursor<K, V> {
    const c = this.upperBound(key);
    if (c.valid) {
      c.prev();
      return c;
    }
    return this.last();
  }

  first(): Cursor<K, V> {
    let node = this.#root;
    while (node instanceof Branch) node = node.children[0]!;
    return new Cursor(node, 0);
  }

  last(): Cursor<K, V> {
    let node = this.#root;
    while (node instanceof Branch) node = node.children[node.children.length - 1]!;
    return new Cursor(node, node.keys.length - 1);
  }

  *entries(): IterableIterator<[K, V]> {
    for (const c = this.first(); c.valid; c.next()) yield [c.key, c.value];
  }

  /** Checks every structural invariant; for tests. Throws on the first violation. */
  checkInvariants(): void {
    const leaves: Array<Leaf<K, V>> = [];
    const walk = (node: Node<K, V>, lo: K | undefined, hi: K | undefined, isRoot: boolean): number => {
      if (node instanceof Leaf) {
        if (!isRoot && node.keys.length < this.#minLeaf) throw new Error("leaf underflow");
        if (node.keys.length > this.#maxLeaf) throw new Error("leaf overflow");
        if (node.keys.length !== node.vals.length) throw new Error("leaf keys/vals mismatch");
        for (let i = 0; i < node.keys.length; i++) {
          const k = node.keys[i]!;
          if (i > 0 && this.#cmp(node.keys[i - 1]!, k) >= 0) throw new Error("leaf keys out of order");
          if (lo !== undefined && this.#cmp(k, lo) < 0) throw new Error("key below separator");
          if (hi !== undefined && this.#cmp(k, hi) >= 0) throw new Error("key above separator");
        }
        leaves.push(node);
        return node.keys.length;
      }
      if (!isRoot && node.children.length < this.#minBranch) throw new Error("branch underflow");
      if (node.children.length > this.#maxBranch) throw new Error("branch overflow");
      if (node.keys.length !== node.children.length - 1) throw new Error("branch keys/children mismatch");
      let total = 0;
      for (let i = 0; i < node.children.length; i++) {
        const n = walk(node.children[i]!, i === 0 ? lo : node.keys[i - 1], i === node.keys.length ? hi : node.keys[i], false);
        if (n !== node.counts[i]) throw new Error(`count mismatch: ${n} != ${node.counts[i]}`);
        total += n;
      }
      return total;
    };
    const n = walk(this.#root, undefined, undefined, true);
    if (n !== this.#size) throw new Error(`size mismatch: ${n} != ${this.#size}`);
    for (let i = 0; i < leaves.length; i++) {
      if (leaves[i]!.prev !== (leaves[i - 1] ?? null)) throw new Error("leaf prev link broken");
      if (leaves[i]!.next !== (leaves[i + 1] ?? null)) throw new Error("leaf next link broken");
    }
  }

  #findLeaf(key: K): Leaf<K, V> {
    let node = this.#root;
    while (node instanceof Branch) node = node.children[this.#upperBound(node.keys, key)]!;
    return node;
  }

  #lowerBound(keys: K[], key: K): number {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cmp(keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #upperBound(keys: K[], key: K): number {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cmp(keys[mid]!, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #count(node: Node<K, V>): number {
    if (node instanceof Leaf) return node.keys.length;
    let n = 0;
    for (const c of node.counts) n += c;
    return n;
  }

  #insert(node: Node<K, V>, key: K, value: V): [K, Node<K, V>] | null {
    if (node instanceof Leaf) {
      const i = this.#lowerBound(node.keys, key);
      if (i < node.keys.length && this.#cmp(node.keys[i]!, key) === 0) {
        node.vals[i] = value;
        return null;
      }
      node.keys.splice(i, 0, key);
      node.vals.splice(i, 0, value);
      this.#added = true;
      if (node.keys.length <= this.#maxLeaf) return null;
      const mid = node.keys.length >> 1;
      const right = new Leaf<K, V>();
      right.keys = node.keys.splice(mid);
      right.vals = node.vals.splice(mid);
      right.next = node.next;
      right.prev = node;
      if (node.next !== null) node.next.prev = right;
      node.next = right;
      return [right.keys[0]!, right];
    }
    const i = this.#upperBound(node.keys, key);
    const split = this.#insert(node.children[i]!, key, value);
    if (this.#added) node.counts[i]!++;
    if (split === null) return null;
    node.keys.splice(i, 0, split[0]);
    node.children.splice(i + 1, 0, split[1]);
    const rightCount = this.#count(split[1]);
    node.counts[i]! -= rightCount;
    node.counts.splice(i + 1, 0, rightCount);
    if (node.children.length <= this.#maxBranch) return null;
    const mid = node.children.length >> 1;
    const right = new Branch<K, V>();
    right.children = node.children.splice(mid);
    right.counts = node.counts.splice(mid);
    right.keys = node.keys.splice(mid);
    const sep = node.keys.pop()!;
    return [sep, right];
  }

  #remove(node: Node<K, V>, key: K): boolean {
    if (node instanceof Leaf) {
      const i = this.#lowerBound(node.keys, key);
      if (i >= node.keys.length || this.#cmp(node.keys[i]!, key) !== 0) return false;
      node.keys.splice(i, 1);
      node.vals.splice(i, 1);
      return true;
    }
    const i = this.#upperBound(node.keys, key);
    const child = node.children[i]!;
    if (!this.#remove(child, key)) return false;
    node.counts[i]!--;
    const under = child instanceof Leaf ? child.keys.length < this.#minLeaf : child.children.length < this.#minBranch;
    if (under) this.#rebalance(node, i);
    return true;
  }

  // children[i] of `parent` is under-full: borrow from a sibling that can spare, else merge.
  #rebalance(parent: Branch<K, V>, i: number): void {
    const child = parent.children[i]!;
    const left = i > 0 ? parent.children[i - 1]! : null;
    const right = i + 1 < parent.children.length ? parent.children[i + 1]! : null;
    if (child instanceof Leaf) {
      const l = left as Leaf<K, V> | null;
      const r = right as Leaf<K, V> | null;
      if (l !== null && l.keys.length > this.#minLeaf) {
        child.keys.unshift(l.keys.pop()!);
        child.vals.unshift(l.vals.pop()!);
        parent.keys[i - 1] = child.keys[0]!;
        parent.counts[i - 1]!--;
        parent.counts[i]!++;
      } else if (r !== null && r.keys.length > this.#minLeaf) {
        child.keys.push(r.keys.shift()!);
        child.vals.push(r.vals.shift()!);
        parent.keys[i] = r.keys[0]!;
        parent.counts[i + 1]!--;
        parent.counts[i]!++;
      } else if (l !== null) {
        this.#merge(parent, i - 1);
      } else if (r !== null) {
        this.#merge(parent, i);
      }
      return;
    }
    const l = left as Branch<K, V> | null;
    const r = right as Branch<K, V> | null;
    if (l !== null && l.children.length > this.#minBranch) {
      const c = l.counts.pop()!;
      child.keys.unshift(parent.keys[i - 1]!);
      child.children.unshift(l.children.pop()!);
      child.counts.unshift(c);
      parent.keys[i - 1] = l.keys.pop()!;
      parent.counts[i - 1]! -= c;
      parent.counts[i]! += c;
    } else if (r !== null && r.children.length > this.#minBranch) {
      const c = r.counts.shift()!;
      child.keys.push(parent.keys[i]!);
      child.children.push(r.children.shift()!);
      child.counts.push(c);
      parent.keys[i] = r.keys.shift()!;
      parent.counts[i + 1]! -= c;
      parent.counts[i]! += c;
    } else if (l !== null) {
      this.#merge(parent, i - 1);
    } else if (r !== null) {
      this.#merge(parent, i);
    }
  }

  // Merges children[j+1] into children[j].
  #merge(parent: Branch<K, V>, j: number): void {
    const a = parent.children[j]!;
    const b = parent.children[j + 1]!;
    if (a instanceof Leaf) {
      const bl = b as Leaf<K, V>;
      for (let k = 0; k < bl.keys.length; k++) {
        a.keys.push(bl.keys[k]!);
        a.vals.push(bl.vals[k]!);
      }
      a.next = bl.next;
      if (bl.next !== null) bl.next.prev = a;
    } else {
      const bb = b as Branch<K, V>;
      a.keys.push(parent.keys[j]!, ...bb.keys);
      a.children.push(...bb.children);
      a.counts.push(...bb.counts);
    }
    parent.keys.splice(j, 1);
    parent.children.splice(j + 1, 1);
    parent.counts[j]! += parent.counts[j + 1]!;
    parent.counts.splice(j + 1, 1);
  }
}

/** Compares bigints. */
export function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares strings in Unicode code point order, which is also UTF-8 byte order (the
 * order ProxyFS's byte-keyed directory trees use). Plain `<` compares UTF-16 code units,
 * which disagrees only when one side has a surrogate and the other a unit >= U+E000.
 */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
