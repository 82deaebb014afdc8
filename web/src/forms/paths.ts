// Values at a path in a document, set immutably, keeping every other key and the
// order of keys; and the problem paths of the server (`tiers.subsets[1].limit.percent`).

import { dump, load } from "js-yaml";

export type PathPart = string | number;
export type Path = PathPart[];

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function getIn(value: unknown, path: Path): unknown {
  let current = value;
  for (const part of path) {
    if (typeof part === "number") {
      if (!Array.isArray(current)) return undefined;
      current = current[part];
    } else {
      if (!isObj(current)) return undefined;
      current = current[part];
    }
  }
  return current;
}

/** Whether the key at the end of `path` is present (with any value but `undefined`). */
export function isSet(value: unknown, path: Path): boolean {
  if (path.length === 0) return value !== undefined;
  const parent = getIn(value, path.slice(0, -1));
  const last = path[path.length - 1];
  if (typeof last === "number") return Array.isArray(parent) && last < parent.length && parent[last] !== undefined;
  return isObj(parent) && Object.prototype.hasOwnProperty.call(parent, last) && parent[last] !== undefined;
}

/**
 * A copy of `root` with `next` at `path`: an existing key keeps its place, a new key
 * goes last, and `undefined` removes the key (documents stay minimal). Missing
 * objects on the way are created; nothing else is touched, unknown keys included.
 */
export function setIn<T>(root: T, path: Path, next: unknown): T {
  if (path.length === 0) return next as T;
  const [head, ...rest] = path;
  if (typeof head === "number") {
    const list = Array.isArray(root) ? [...root] : [];
    const child = setIn(list[head], rest, next);
    if (child === undefined && rest.length === 0) {
      list.splice(head, 1);
    } else {
      list[head] = child;
    }
    return list as T;
  }
  const obj: Obj = isObj(root) ? root : {};
  const child = setIn(obj[head], rest, next);
  if (child === undefined) {
    if (!(head in obj)) return obj as T;
    const { [head]: _removed, ...others } = obj;
    return others as T;
  }
  if (head in obj) {
    const out: Obj = {};
    for (const [k, v] of Object.entries(obj)) out[k] = k === head ? child : v;
    return out as T;
  }
  return { ...obj, [head]: child } as T;
}

/** Rename a key of an object in place (same position); the value may change too (not to `undefined`). */
export function renameKey(obj: Obj, from: string, to: string, ...changed: [unknown?]): Obj {
  const value = changed.length ? changed[0] : obj[from];
  const out: Obj = {};
  let placed = false;
  for (const [k, v] of Object.entries(obj)) {
    if (k === from) {
      if (value !== undefined) out[to] = value;
      placed = true;
    } else if (k !== to) {
      out[k] = v;
    }
  }
  if (!placed && value !== undefined) out[to] = value;
  return out;
}

/** The list with item `index` replaced by `value`. */
export function replaceAt<T>(list: T[], index: number, value: T): T[] {
  return list.map((x, j) => (j === index ? value : x));
}

/** The list without item `index`. */
export function removeAt<T>(list: T[], index: number): T[] {
  return list.filter((_, j) => j !== index);
}

/** Move item `from` of a list to index `to`. */
export function move<T>(list: T[], from: number, to: number): T[] {
  if (to < 0 || to >= list.length || from === to) return list;
  const out = [...list];
  const [item] = out.splice(from, 1);
  out.splice(to, 0, item);
  return out;
}

/** `["subsets", 1, "limit"]` → `subsets[1].limit`, as the server writes problem paths. */
export function formatPath(path: Path): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += (out ? "." : "") + part;
  }
  return out;
}

/** A DOM id for the control at a path (`act-tiers-subsets-1-limit`). */
export function controlId(prefix: string, path: Path): string {
  return [prefix, ...path].map((p) => String(p).replace(/[^A-Za-z0-9_-]/g, "_")).join("-");
}

export interface PathProblem {
  path: string;
  message: string;
}

/**
 * The problem's path inside an activity: `tiers.subsets[1].limit` → `subsets[1].limit`,
 * `tiers` → ``. A path that does not start with the id (an activity whose id is
 * itself wrong, `activities[2].id`) loses its first part.
 */
export function activityRelative(path: string, activityId: string): string {
  if (path === activityId) return "";
  if (path.startsWith(activityId + ".")) return path.slice(activityId.length + 1);
  if (path.startsWith(activityId + "[")) return path.slice(activityId.length);
  const m = /^activities\[\d+\]\.?/.exec(path);
  if (m) return path.slice(m[0].length);
  const dot = path.indexOf(".");
  return dot < 0 ? "" : path.slice(dot + 1);
}

/** The problems about exactly this path. */
export function problemsAt(problems: PathProblem[], path: Path | string): string[] {
  const key = typeof path === "string" ? path : formatPath(path);
  return problems.filter((p) => p.path === key).map((p) => p.message);
}

/** The problems at or under this path (`keep` collects `keep.by`). */
export function problemsUnder(problems: PathProblem[], path: Path | string): PathProblem[] {
  const key = typeof path === "string" ? path : formatPath(path);
  if (!key) return problems;
  return problems.filter((p) => p.path === key || p.path.startsWith(key + ".") || p.path.startsWith(key + "["));
}

// ---- text that stands for a value ----

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/**
 * What a text field that may hold a number stores: a number when the text is one
 * (`100`, `-2.5`), else the text itself (`${vars.min_spend}`, `1.` while typing).
 * Empty text is `undefined` (the key is removed).
 */
export function parseNumberish(text: string, integer = false): unknown {
  const t = text.trim();
  if (t === "") return undefined;
  if (NUMBER.test(t) && !/\.$/.test(t)) {
    const n = Number(t);
    if (Number.isFinite(n) && (!integer || Number.isInteger(n))) return n;
  }
  return text;
}

export function formatScalar(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** A value as short YAML text, for the fallback field of unknown shapes. */
export function toYaml(value: unknown): string {
  if (value === undefined) return "";
  const text = dump(value, { flowLevel: 2, lineWidth: 100 });
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}

/** YAML (or JSON) text → value; empty text is `undefined`; throws with the parser's message. */
export function fromYaml(text: string): unknown {
  if (text.trim() === "") return undefined;
  return load(text);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a as Obj);
  const kb = Object.keys(b as Obj);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Obj)[k], (b as Obj)[k]));
}
