import { describe, expect, it } from "vitest";
import {
  activityRelative,
  controlId,
  deepEqual,
  formatPath,
  fromYaml,
  getIn,
  isSet,
  move,
  parseNumberish,
  problemsAt,
  problemsUnder,
  removeAt,
  renameKey,
  replaceAt,
  setIn,
  toYaml,
} from "./paths";

describe("setIn", () => {
  const doc = { id: "dedup", type: "deduplicate", keys: ["email"], keep: { method: "expression", by: "signup_date" }, zzz: 1 };

  it("replaces a value in place, keeping key order and unknown keys", () => {
    const next = setIn(doc, ["keep", "method"], "first");
    expect(JSON.stringify(next)).toBe(
      '{"id":"dedup","type":"deduplicate","keys":["email"],"keep":{"method":"first","by":"signup_date"},"zzz":1}',
    );
    expect(doc.keep.method).toBe("expression"); // never mutated
  });

  it("adds a new key last", () => {
    expect(Object.keys(setIn(doc, ["normalize"], "lower_trim"))).toEqual(["id", "type", "keys", "keep", "zzz", "normalize"]);
  });

  it("removes a key with undefined, and nothing else", () => {
    const next = setIn(doc, ["keep", "by"], undefined);
    expect(next.keep).toEqual({ method: "expression" });
    expect(setIn(doc, ["absent"], undefined)).toBe(doc);
  });

  it("creates missing objects and lists on the way", () => {
    expect(setIn({}, ["limit", "percent"], 10)).toEqual({ limit: { percent: 10 } });
    expect(setIn({}, ["keys", 0], "email")).toEqual({ keys: ["email"] });
  });

  it("sets and removes list items", () => {
    const next = setIn(doc, ["keys", 1], "phone");
    expect(next.keys).toEqual(["email", "phone"]);
    expect(setIn(next, ["keys", 0], undefined).keys).toEqual(["phone"]);
    expect(setIn({ s: [{ id: "a" }, { id: "b" }] }, ["s", 1, "id"], "c")).toEqual({ s: [{ id: "a" }, { id: "c" }] });
  });
});

describe("getIn and isSet", () => {
  const doc = { a: { b: [1, { c: null }] }, f: false };
  it("reads values at paths", () => {
    expect(getIn(doc, ["a", "b", 1, "c"])).toBe(null);
    expect(getIn(doc, ["a", "x", "y"])).toBeUndefined();
    expect(getIn(doc, [])).toBe(doc);
  });
  it("tells whether a key is set, null and false included", () => {
    expect(isSet(doc, ["a", "b", 1, "c"])).toBe(true);
    expect(isSet(doc, ["f"])).toBe(true);
    expect(isSet(doc, ["g"])).toBe(false);
    expect(isSet(doc, ["a", "b", 5])).toBe(false);
    expect(isSet({ a: undefined }, ["a"])).toBe(false);
  });
});

describe("renameKey, move, replaceAt and removeAt", () => {
  it("renames a key where it stands", () => {
    expect(Object.keys(renameKey({ a: 1, b: 2, c: 3 }, "b", "x"))).toEqual(["a", "x", "c"]);
    expect(renameKey({ a: 1 }, "a", "b", 5)).toEqual({ b: 5 });
  });
  it("moves list items", () => {
    expect(move([1, 2, 3], 0, 1)).toEqual([2, 1, 3]);
    expect(move([1, 2, 3], 2, 3)).toEqual([1, 2, 3]);
  });
  it("replaces and removes list items, leaving the list as it was", () => {
    const list = [1, 2, 3];
    expect(replaceAt(list, 1, 9)).toEqual([1, 9, 3]);
    expect(replaceAt(list, 3, 9)).toEqual([1, 2, 3]);
    expect(removeAt(list, 0)).toEqual([2, 3]);
    expect(removeAt(list, 5)).toEqual([1, 2, 3]);
    expect(list).toEqual([1, 2, 3]);
  });
});

describe("problem paths", () => {
  it("formats paths as the server does", () => {
    expect(formatPath(["subsets", 1, "limit", "percent"])).toBe("subsets[1].limit.percent");
    expect(formatPath([])).toBe("");
  });
  it("makes paths relative to the activity", () => {
    expect(activityRelative("tiers.subsets[1].limit.percent", "tiers")).toBe("subsets[1].limit.percent");
    expect(activityRelative("tiers", "tiers")).toBe("");
    expect(activityRelative("activities[2].id", "Bad Id")).toBe("id");
    expect(activityRelative("dedup.keys[0]", "dedup")).toBe("keys[0]");
  });
  it("finds the problems of a field", () => {
    const problems = [
      { path: "keep.by", message: "unknown field" },
      { path: "keep", message: "keep method expression needs `by`" },
      { path: "keys[0]", message: "unknown field 'mail'" },
    ];
    expect(problemsAt(problems, ["keep", "by"])).toEqual(["unknown field"]);
    expect(problemsUnder(problems, ["keep"])).toHaveLength(2);
    expect(problemsUnder(problems, "keys")).toHaveLength(1);
  });
  it("makes ids from paths", () => {
    expect(controlId("act-tiers", ["subsets", 0, "rule"])).toBe("act-tiers-subsets-0-rule");
    expect(controlId("x", ["a.b"])).toBe("x-a_b");
  });
});

describe("numbers typed as text", () => {
  it("stores a number when the text is one, else the text", () => {
    expect(parseNumberish("100")).toBe(100);
    expect(parseNumberish(" -2.5 ")).toBe(-2.5);
    expect(parseNumberish("${vars.min_spend}")).toBe("${vars.min_spend}");
    expect(parseNumberish("1.")).toBe("1."); // typing 1.5
    expect(parseNumberish("")).toBeUndefined();
    expect(parseNumberish("2.5", true)).toBe("2.5");
    expect(parseNumberish("abc")).toBe("abc");
  });
});

describe("YAML fallback", () => {
  it("round-trips values and reports bad text", () => {
    const value = { a: [1, "x"], b: { c: true } };
    expect(fromYaml(toYaml(value))).toEqual(value);
    expect(fromYaml("")).toBeUndefined();
    expect(fromYaml("2027-03-01")).toBe("2027-03-01"); // dates stay text
    expect(() => fromYaml("a: [1, 2")).toThrow();
  });
  it("compares deeply", () => {
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
  });
});
