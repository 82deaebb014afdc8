import { describe, expect, it } from "vitest";
import { changedPath } from "./diff";

describe("changedPath", () => {
  it("is undefined for equal values", () => {
    expect(changedPath({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBeUndefined();
  });

  it("names the one leaf that changed", () => {
    const a = { id: "x", subject: "Hel", subsets: [{ id: "vip", rule: { value: "go" } }] };
    expect(changedPath(a, { ...a, subject: "Hell" })).toBe("subject");
    expect(changedPath(a, { ...a, subsets: [{ id: "vip", rule: { value: "gol" } }] })).toBe("subsets[0].rule.value");
  });

  it("names the smallest part holding several changes", () => {
    const a = { rule: { field: "x", op: "eq", value: 1 }, label: "l" };
    expect(changedPath(a, { ...a, rule: { field: "x", op: "in", value: [1] } })).toBe("rule");
    expect(changedPath(a, { rule: a.rule, label: "m", extra: 1 })).toBe("");
  });

  it("counts an added or removed key, or a resized list, as a change of it", () => {
    expect(changedPath({ a: 1 }, { a: 1, b: 2 })).toBe("b");
    expect(changedPath({ a: 1, b: 2 }, { a: 1 })).toBe("b");
    expect(changedPath({ l: [1] }, { l: [1, 2] })).toBe("l");
    expect(changedPath({ v: "1" }, { v: 1 })).toBe("v");
  });
});
