// The copy-on-write B+tree of checkpoint pages (LAYOUT.md §4, §5). The persisted tree holds the
// whole state as sorted key -> value records (tree-keys.ts) in leaf pages; interior pages map
// separator keys to child page names. Pages are immutable objects with never-reused names.
//
// The process keeps a mirror of the persisted tree's *shape* (page names, levels, the keys of
// each leaf) but not the values: the working state (MemoryVolumeStore) holds those, and a key
// not changed since the last checkpoint still has the value that checkpoint wrote. A checkpoint
// (plan) rewrites only the leaves holding changed keys, re-reading all of their values from the
// state, plus the interior pages on their paths; everything else is shared with the previous
// checkpoint. A plan never modifies the tree it starts from (it is adopted only once the header
// naming it has committed).
//
// Invariants of a tree (checked at load; fsck reports violations):
// - every leaf is at level 0, every child of a level-L page is at level L-1;
// - keys strictly increase within a leaf and from leaf to leaf (left to right);
// - the separator of a child equals the child's first key, separators strictly increase, and
//   every key of a child lies in [its separator, the next separator);
// - no page is referenced twice; only a root leaf may be empty.
import { PersistFormatError, arr, int, parseLine, str } from "./codec.js";
import { parseName } from "./layout.js";

export interface TreeLeaf {
  readonly leaf: true;
  readonly name: string;
  readonly keys: readonly string[];
  /** Size of the page object. */
  readonly bytes: number;
}
export interface TreeInner {
  readonly leaf: false;
  readonly name: string;
  readonly level: number;
  readonly children: readonly TreeNode[];
  readonly first: string;
  readonly bytes: number;
}
export type TreeNode = TreeLeaf | TreeInner;

const firstKey = (n: TreeNode): string => (n.leaf ? (n.keys[0] ?? "") : n.first);
const levelOf = (n: TreeNode): number => (n.leaf ? 0 : n.level);
const entryLine = (n: TreeNode): string => JSON.stringify([firstKey(n), n.name]);

/** A record as the tree writes it: its key and its whole line `[key, value]`. */
export type RecordLine = readonly [key: string, line: string];

/** Source of current record lines (tree-keys.ts StateReader). */
export interface LineSource {
  line(key: string): string | undefined;
}

function lowerBound(a: readonly string[], key: string, lo: number, hi: number): number {
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! < key) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/**
 * Cuts `items` into consecutive chunks of about `target` bytes, balanced so no chunk of a
 * multi-chunk cut is below ~target/2; every chunk holds at least `minItems` (when possible).
 * Up to 1.25 x target stays one chunk, so a page rewritten with about the same content does
 * not split (and a page just split does not split again on its next rewrite).
 */
function chunk<T>(items: readonly T[], size: (t: T) => number, target: number, minItems: number): T[][] {
  const sizes = items.map(size);
  const total = sizes.reduce((a, b) => a + b, 0);
  let k = total <= target + target / 4 ? 1 : Math.ceil(total / target);
  k = Math.max(1, Math.min(k, Math.floor(items.length / minItems)));
  const out: T[][] = [];
  let cur: T[] = [];
  let run = 0;
  for (let i = 0; i < items.length; i++) {
    cur.push(items[i]!);
    run += sizes[i]!;
    if (out.length < k - 1 && run >= (total * (out.length + 1)) / k && cur.length >= minItems && items.length - i - 1 >= minItems) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** The result of a checkpoint plan: the new tree, the pages to PUT, the pages it replaces. */
export interface TreePlan {
  readonly tree: CowTree;
  readonly pages: ReadonlyArray<readonly [string, Buffer]>;
  /** Pages of the old tree the new one no longer references (delete after the header commits). */
  readonly dropped: readonly string[];
}

/** Builds new pages for one plan; `alloc` hands out never-used page names. */
class Builder {
  readonly #alloc: () => string;
  readonly #target: number;
  readonly #src: LineSource;
  /** Fresh nodes -> page bodies (a fresh node merged away again is removed). */
  readonly bodies = new Map<TreeNode, Buffer>();
  readonly lines = new Map<TreeNode, RecordLine[]>();
  readonly dropped: string[] = [];

  constructor(src: LineSource, alloc: () => string, target: number) {
    this.#src = src;
    this.#alloc = alloc;
    this.#target = target;
  }

  leaves(lines: RecordLine[]): TreeLeaf[] {
    return chunk(lines, (l) => l[1].length + 1, this.#target, 1).map((c) => this.leaf(c));
  }

  leaf(lines: RecordLine[]): TreeLeaf {
    const text = `${JSON.stringify({ t: "leaf", n: lines.length })}\n${lines.map((l) => `${l[1]}\n`).join("")}`;
    const body = Buffer.from(text, "utf8");
    const n: TreeLeaf = { leaf: true, name: this.#alloc(), keys: lines.map((l) => l[0]), bytes: body.length };
    this.bodies.set(n, body);
    this.lines.set(n, lines);
    return n;
  }

  inners(children: TreeNode[], level: number): TreeInner[] {
    return chunk(children, (c) => entryLine(c).length + 1, this.#target, 2).map((c) => {
      const text = `${JSON.stringify({ t: "node", level, n: c.length })}\n${c.map((x) => `${entryLine(x)}\n`).join("")}`;
      const body = Buffer.from(text, "utf8");
      const n: TreeInner = { leaf: false, name: this.#alloc(), level, children: c, first: firstKey(c[0]!), bytes: body.length };
      this.bodies.set(n, body);
      return n;
    });
  }

  /** Lines of a leaf: kept for fresh ones, re-read for old ones (whose keys are all clean). */
  linesOf(n: TreeLeaf): RecordLine[] {
    const kept = this.lines.get(n);
    if (kept !== undefined) return kept;
    const out: RecordLine[] = [];
    for (const k of n.keys) {
      const l = this.#src.line(k);
      if (l !== undefined) out.push([k, l]);
    }
    return out;
  }

  underfull(n: TreeNode): boolean {
    return n.bytes < this.#target / 4 || (!n.leaf && n.children.length < 2);
  }

  /** Forgets a node that will not be in the new tree. */
  discard(n: TreeNode): void {
    if (this.bodies.has(n)) {
      this.bodies.delete(n);
      this.lines.delete(n);
    } else if (n.name !== "") {
      this.dropped.push(n.name);
    }
  }

  /** Two adjacent nodes of one level, re-cut into one or more fresh nodes. */
  merge(a: TreeNode, b: TreeNode): TreeNode[] {
    this.discard(a);
    this.discard(b);
    if (a.leaf && b.leaf) return this.leaves([...this.linesOf(a), ...this.linesOf(b)]);
    if (!a.leaf && !b.leaf) {
      // Fresh children of the two may now be neighbours: let small ones merge too.
      const kids = [...a.children, ...b.children].map((node) => ({ node, fresh: this.bodies.has(node), settled: false }));
      return this.inners(this.#mergeSmall(kids), a.level);
    }
    throw new Error("internal: merging pages of different levels");
  }

  /** Merges each fresh, not yet settled, underfull node with a neighbour (rewriting both). */
  #mergeSmall(next: Array<{ node: TreeNode; fresh: boolean; settled: boolean }>): TreeNode[] {
    for (let i = 0; i < next.length;) {
      const k = next[i]!;
      if (k.fresh && !k.settled && next.length > 1 && this.underfull(k.node)) {
        const a = i + 1 < next.length ? i : i - 1;
        const merged = this.merge(next[a]!.node, next[a + 1]!.node);
        next.splice(a, 2, ...merged.map((m) => ({ node: m, fresh: true, settled: merged.length > 1 })));
        i = a;
        continue;
      }
      i++;
    }
    return next.map((x) => x.node);
  }

  /** New nodes replacing `n` after `changes[lo..hi)`, or null when `n` is unchanged. */
  update(n: TreeNode, changes: readonly string[], lo: number, hi: number): TreeNode[] | null {
    if (n.leaf) {
      const old = n.keys;
      let changed = false;
      const out: RecordLine[] = [];
      let i = 0;
      let j = lo;
      while (i < old.length || j < hi) {
        let k: string;
        const oi = old[i];
        const cj = changes[j];
        if (cj === undefined || j >= hi || (oi !== undefined && oi < cj)) {
          k = oi!;
          i++;
        } else {
          k = cj;
          j++;
          if (oi === cj) {
            i++;
            changed = true; // a dirty key the page holds: rewrite (its value may differ)
          }
        }
        const l = this.#src.line(k);
        if (l !== undefined) {
          out.push([k, l]);
          if (k === cj && oi !== cj) changed = true; // a new key
        } else if (oi === k) {
          changed = true; // a key gone
        }
      }
      if (!changed) return null;
      this.discard(n);
      return this.leaves(out);
    }
    const kids = n.children;
    const next: Array<{ node: TreeNode; fresh: boolean; settled: boolean }> = [];
    let changed = false;
    let from = lo;
    for (let c = 0; c < kids.length; c++) {
      const to = c + 1 < kids.length ? lowerBound(changes, firstKey(kids[c + 1]!), from, hi) : hi;
      const r = to > from ? this.update(kids[c]!, changes, from, to) : null;
      if (r === null) next.push({ node: kids[c]!, fresh: false, settled: true });
      else {
        changed = true;
        for (const x of r) next.push({ node: x, fresh: true, settled: false });
      }
      from = to;
    }
    if (!changed) return null;
    this.discard(n);
    // A fresh child below a quarter page is merged with a neighbour (which is rewritten too).
    const kids2 = this.#mergeSmall(next);
    if (kids2.length === 0) return [];
    return this.inners(kids2, n.level);
  }

  /** The root over `nodes` (one level), adding levels as needed and dropping 1-child roots. */
  rootOver(nodes: TreeNode[]): TreeNode {
    let level = nodes.length > 0 ? levelOf(nodes[0]!) : 0;
    if (nodes.length === 0) return this.leaf([]);
    while (nodes.length > 1) nodes = this.inners(nodes, ++level);
    let root = nodes[0]!;
    while (!root.leaf && root.children.length === 1) {
      this.discard(root);
      root = root.children[0]!;
    }
    return root;
  }

  /** PUT list: the fresh pages reachable from `root`. */
  pagesOf(root: TreeNode): Array<[string, Buffer]> {
    const out: Array<[string, Buffer]> = [];
    const walk = (n: TreeNode): void => {
      const b = this.bodies.get(n);
      if (b === undefined) return; // an old page: its subtree is all old
      out.push([n.name, b]);
      if (!n.leaf) for (const c of n.children) walk(c);
    };
    walk(root);
    return out;
  }
}

export class CowTree {
  readonly root: TreeNode;

  constructor(root: TreeNode) {
    this.root = root;
  }

  /** A tree that is not persisted yet (before format, or after loading a version-1 snapshot). */
  static unpersisted(): CowTree {
    return new CowTree({ leaf: true, name: "", keys: [], bytes: 0 });
  }

  get persisted(): boolean {
    return this.root.name !== "";
  }
  /** Number of levels (1 = the root is a leaf). */
  get height(): number {
    return levelOf(this.root) + 1;
  }

  /** Page names of the tree, root first. */
  pageNames(): string[] {
    const out: string[] = [];
    const walk = (n: TreeNode): void => {
      if (n.name !== "") out.push(n.name);
      if (!n.leaf) for (const c of n.children) walk(c);
    };
    walk(this.root);
    return out;
  }

  /** Number of records (keys) in the tree. */
  recordCount(): number {
    let r = 0;
    const walk = (n: TreeNode): void => {
      if (n.leaf) r += n.keys.length;
      else for (const c of n.children) walk(c);
    };
    walk(this.root);
    return r;
  }

  /** Every key of the tree in [lo, hi), in order. */
  keysIn(lo: string, hi: string): string[] {
    const out: string[] = [];
    const walk = (n: TreeNode): void => {
      if (n.leaf) {
        for (let i = lowerBound(n.keys, lo, 0, n.keys.length); i < n.keys.length && n.keys[i]! < hi; i++) out.push(n.keys[i]!);
        return;
      }
      const c = n.children;
      for (let i = 0; i < c.length; i++) {
        const start = i === 0 ? undefined : firstKey(c[i]!);
        const end = i + 1 < c.length ? firstKey(c[i + 1]!) : undefined;
        if ((end === undefined || end > lo) && (start === undefined || start < hi)) walk(c[i]!);
      }
    };
    walk(this.root);
    return out;
  }

  /** Every key of the tree, in order (tests and fsck). */
  allKeys(): string[] {
    return this.keysIn("", "\u{10ffff}\u{10ffff}");
  }

  /** A whole new tree holding `lines` (sorted by key): format, upgrades and repairs. */
  static build(lines: RecordLine[], old: CowTree, alloc: () => string, target: number): TreePlan {
    const b = new Builder({ line: () => undefined }, alloc, target);
    const root = b.rootOver(b.leaves(lines));
    const tree = new CowTree(root);
    const keep = new Set(tree.pageNames());
    return { tree, pages: b.pagesOf(root), dropped: old.pageNames().filter((n) => !keep.has(n)) };
  }

  /**
   * The tree after the keys `changes` (sorted, unique) took the values `src` now has: only
   * the leaves holding them (and neighbours merged with them) and their ancestors are new.
   */
  plan(changes: readonly string[], src: LineSource, alloc: () => string, target: number): TreePlan {
    const b = new Builder(src, alloc, target);
    const r = changes.length === 0 ? null : b.update(this.root, changes, 0, changes.length);
    if (r === null) return { tree: this, pages: [], dropped: [] };
    const root = b.rootOver(r);
    return { tree: new CowTree(root), pages: b.pagesOf(root), dropped: b.dropped };
  }
}

// ---- loading ----

export interface LoadOptions {
  readonly root: string;
  readonly height: number;
  /** GETs one page (throws for a missing one). */
  readonly get: (name: string) => Promise<Buffer>;
  /** Concurrent GETs (default 8). */
  readonly parallel?: number;
  /** Leaf records in key order, one leaf at a time. */
  readonly onLeaf: (records: Array<[string, unknown]>, where: string) => void;
  /** A violated invariant (the load goes on). */
  readonly problem: (p: string) => void;
  /** After each page. */
  readonly progress?: (pagesLoaded: number) => void;
}

interface Pending {
  readonly name: string;
  readonly level: number;
  /** The parent's separator for this page (undefined for the root) and the next one. */
  readonly lo: string | undefined;
  readonly hi: string | undefined;
  readonly where: string;
  readonly set: (n: TreeNode) => void;
}

async function* inOrder<T>(items: readonly T[], parallel: number, get: (t: T) => Promise<Buffer>): AsyncGenerator<[T, Buffer]> {
  const q: Array<Promise<{ ok: Buffer } | { err: unknown }>> = [];
  let i = 0;
  while (i < items.length || q.length > 0) {
    while (q.length < parallel && i < items.length) q.push(get(items[i++]!).then((ok) => ({ ok }), (err: unknown) => ({ err })));
    const r = await q.shift()!;
    if ("err" in r) {
      // Let the GETs already started settle before failing (no stray rejections).
      await Promise.all(q);
      throw r.err;
    }
    yield [items[i - q.length - 1]!, r.ok];
  }
}

function parsePage(body: Buffer, where: string): { head: ReturnType<typeof parseLine>; rows: unknown[][] } {
  const lines = body.toString("utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) throw new PersistFormatError(`${where}: empty page`);
  const head = parseLine(lines[0]!, `${where} line 1`);
  const rows = lines.slice(1).map((l, i) => {
    const w = `${where} line ${i + 2}`;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (err) {
      throw new PersistFormatError(`${w}: not JSON (${(err as Error).message})`);
    }
    const a = arr(v, w);
    if (a.length !== 2) throw new PersistFormatError(`${w}: expected [key, value]`);
    str(a[0], `${w} key`);
    return a;
  });
  if (int(head.n, `${where} line 1 .n`) !== rows.length) throw new PersistFormatError(`${where}: header says ${String(head.n)} rows, page has ${rows.length}`);
  return { head, rows };
}

/**
 * Loads a persisted tree top-down, level by level (GETs in parallel), handing leaf records to
 * `onLeaf` in key order. Unreadable pages throw PersistFormatError; violated invariants go to
 * `problem` and the load continues (a page referenced twice is loaded once).
 */
export async function loadTree(o: LoadOptions): Promise<CowTree> {
  const parallel = o.parallel ?? 8;
  const seen = new Set<string>([o.root]);
  let root: TreeNode | undefined;
  let frontier: Pending[] = [{ name: o.root, level: o.height - 1, lo: undefined, hi: undefined, where: `root page ${o.root}`, set: (n) => (root = n) }];
  let loaded = 0;
  let lastKey: string | undefined;
  while (frontier.length > 0) {
    const next: Pending[] = [];
    for await (const [p, body] of inOrder(frontier, parallel, (x) => o.get(x.name))) {
      loaded++;
      const { head, rows } = parsePage(body, p.where);
      const inRange = (k: string): boolean => (p.lo === undefined || k >= p.lo) && (p.hi === undefined || k < p.hi);
      if (p.level === 0) {
        if (head.t !== "leaf") throw new PersistFormatError(`${p.where}: expected a leaf page, found ${JSON.stringify(head.t)}`);
        const keys: string[] = [];
        const records: Array<[string, unknown]> = [];
        for (const [k, v] of rows as Array<[string, unknown]>) {
          if (lastKey !== undefined && k <= lastKey) o.problem(`${p.where}: key ${JSON.stringify(k)} is not above the previous key ${JSON.stringify(lastKey)}`);
          else if (!inRange(k)) o.problem(`${p.where}: key ${JSON.stringify(k)} lies outside its separators [${JSON.stringify(p.lo)}, ${JSON.stringify(p.hi)})`);
          lastKey = k;
          keys.push(k);
          records.push([k, v]);
        }
        if (keys.length === 0 && p.lo !== undefined) o.problem(`${p.where}: empty leaf below the root`);
        if (p.lo !== undefined && keys.length > 0 && keys[0] !== p.lo) o.problem(`${p.where}: first key ${JSON.stringify(keys[0])} differs from its separator ${JSON.stringify(p.lo)}`);
        o.onLeaf(records, p.where);
        p.set({ leaf: true, name: p.name, keys, bytes: body.length });
      } else {
        if (head.t !== "node" || head.level !== p.level) throw new PersistFormatError(`${p.where}: expected an interior page of level ${p.level}, found ${JSON.stringify(head.t)} level ${JSON.stringify(head.level)}`);
        if (rows.length === 0) throw new PersistFormatError(`${p.where}: interior page without children`);
        const children: TreeNode[] = [];
        const node = { leaf: false as const, name: p.name, level: p.level, children, first: rows[0]![0] as string, bytes: body.length };
        let prev: string | undefined;
        for (const [i, [sep, child]] of (rows as Array<[string, unknown]>).entries()) {
          const name = str(child, `${p.where} line ${i + 2} child`);
          if (prev !== undefined && sep <= prev) o.problem(`${p.where}: separator ${JSON.stringify(sep)} is not above ${JSON.stringify(prev)}`);
          else if (!inRange(sep)) o.problem(`${p.where}: separator ${JSON.stringify(sep)} lies outside [${JSON.stringify(p.lo)}, ${JSON.stringify(p.hi)})`);
          if (i === 0 && p.lo !== undefined && sep !== p.lo) o.problem(`${p.where}: first separator ${JSON.stringify(sep)} differs from the parent's ${JSON.stringify(p.lo)}`);
          prev = sep;
          if (parseName(name)?.kind !== "page") {
            o.problem(`${p.where}: child ${JSON.stringify(name)} is not a checkpoint page name`);
            continue;
          }
          if (seen.has(name)) {
            o.problem(`page ${name} is referenced twice (again by ${p.name})`);
            continue;
          }
          seen.add(name);
          const hi = i + 1 < rows.length ? (rows[i + 1]![0] as string) : p.hi;
          const slot = children.length;
          children.push(undefined as unknown as TreeNode);
          next.push({ name, level: p.level - 1, lo: sep, hi, where: `page ${name} (level ${p.level - 1}, child of ${p.name})`, set: (n) => (children[slot] = n) });
        }
        p.set(node);
      }
      o.progress?.(loaded);
    }
    frontier = next;
  }
  return new CowTree(root!);
}
