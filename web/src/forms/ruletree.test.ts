import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import {
  adaptValue,
  addToRoot,
  newGroup,
  newLeaf,
  operatorsFor,
  ruleKind,
  ruleToTree,
  toggleNot,
  treeToRule,
  typeFamily,
  valueShape,
  type ConditionNode,
  type GroupNode,
  type RuleNode,
} from "./ruletree";

const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));

function yamlFiles(folder: string): string[] {
  return readdirSync(examples + folder)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => `${folder}/${f}`);
}

/** Every rule of a document: the values of `rule` and `where` keys outside other rules. */
function rulesIn(value: unknown, path = ""): [string, unknown][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => rulesIn(v, `${path}[${i}]`));
  if (typeof value !== "object" || value === null) return [];
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(value)) {
    const here = path ? `${path}.${k}` : k;
    if ((k === "rule" || k === "where") && v !== null && typeof v === "object") out.push([here, v]);
    else out.push(...rulesIn(v, here));
  }
  return out;
}

const files = [...yamlFiles("campaigns"), ...yamlFiles("filters")];
const allRules = files.flatMap((file) =>
  rulesIn(load(readFileSync(examples + file, "utf8"))).map(([path, rule]) => [`${file} ${path}`, rule] as const),
);

/** Same value and same key order everywhere. */
function sameDocument(a: unknown, b: unknown) {
  expect(b).toEqual(a);
  expect(JSON.stringify(b)).toBe(JSON.stringify(a));
}

describe("rules of the examples", () => {
  it("finds rules in the campaigns and the filters", () => {
    expect(allRules.length).toBeGreaterThanOrEqual(9);
    expect(allRules.some(([where]) => where.startsWith("filters/"))).toBe(true);
  });

  it.each(allRules)("%s: rule → tree → rule is the identity", (_where, rule) => {
    const tree = ruleToTree(rule);
    sameDocument(rule, treeToRule(tree));
  });

  it.each(allRules)("%s: the builder reads every node (nothing falls back to raw)", (_where, rule) => {
    const unknowns: RuleNode[] = [];
    const walk = (n: RuleNode) => {
      if (n.kind === "unknown") unknowns.push(n);
      if (n.kind === "all" || n.kind === "any") n.children.forEach(walk);
      if (n.kind === "not") walk(n.child);
      if ((n.kind === "aggregate" || n.kind === "exists") && n.where) walk(n.where);
    };
    walk(ruleToTree(rule));
    expect(unknowns).toEqual([]);
  });
});

describe("lossless on odd rules", () => {
  const odd: [string, unknown][] = [
    ["keys in another order", { value: [1, 2], op: "between", field: "age" }],
    ["value: null kept", { field: "email", op: "eq", value: null }],
    ["no value key", { field: "email", op: "is_empty" }],
    ["a value that is a variable", { field: "amount", op: "gte", value: "${vars.min_spend}" }],
    ["unknown key on a leaf", { field: "a", op: "eq", value: 1, note: "kept" }],
    ["unknown key on a group", { all: [{ filter: "x" }], comment: "kept" }],
    ["not a mapping", "country = FR"],
    ["a list", [{ field: "a", op: "eq", value: 1 }]],
    ["null", null],
    ["empty mapping", {}],
    ["group that is not a list", { all: { field: "a" } }],
    ["two kinds", { all: [], any: [] }],
    ["field that is a number", { field: 3, op: "eq", value: 1 }],
    ["aggregate with every setting, reordered", {
      op: "lt", value: 3, aggregate: { where: { any: [{ field: "x", op: "in", value: ["a"] }] }, field: "amount", fn: "avg", link: "purchases" },
    }],
    ["aggregate with an unknown inner key", { aggregate: { link: "p", fn: "count", extra: 1 }, op: "eq", value: 0 }],
    ["engagement with every setting", {
      engagement: { event: "opened", campaign: "${vars.c}", activity: "mail", within: "7 days", include_machine: true },
    }],
    ["engagement include_machine not a boolean", { engagement: { event: "opened", include_machine: "yes" } }],
    ["exists without where", { exists: { link: "purchases" } }],
    ["deep nesting", { not: { any: [{ not: { all: [{ in_audience: "vip" }, { filter: "f" }] } }] } }],
    ["a null child", { all: [null, { filter: "f" }] }],
  ];
  it.each(odd)("%s", (_name, rule) => {
    sameDocument(rule, treeToRule(ruleToTree(rule)));
  });
});

describe("ruleKind", () => {
  it("finds the kind as the server does", () => {
    expect(ruleKind({ all: [] })).toBe("all");
    expect(ruleKind({ field: "x", op: "eq" })).toBe("field");
    expect(ruleKind({ aggregate: {}, op: "eq", value: 1 })).toBe("aggregate");
    expect(ruleKind({ op: "eq" })).toBe(null);
    expect(ruleKind("x")).toBe(null);
  });
});

describe("editing the tree", () => {
  it("changes a leaf in place, keeping the other keys and their order", () => {
    const rule = { op: "eq", field: "country", value: "FR" };
    const tree = ruleToTree(rule) as ConditionNode;
    const edited = treeToRule({ ...tree, value: "ES" });
    expect(JSON.stringify(edited)).toBe('{"op":"eq","field":"country","value":"ES"}');
  });

  it("removes the value for a unary operator", () => {
    const tree = ruleToTree({ field: "email", op: "eq", value: "x" }) as ConditionNode;
    expect(treeToRule({ ...tree, op: "is_empty", value: adaptValue(tree.value, "is_empty") })).toEqual({
      field: "email",
      op: "is_empty",
    });
  });

  it("switches AND to OR", () => {
    const tree = ruleToTree({ all: [{ filter: "a" }, { filter: "b" }] }) as GroupNode;
    expect(treeToRule({ ...tree, kind: "any" })).toEqual({ any: [{ filter: "a" }, { filter: "b" }] });
  });

  it("wraps in NOT and unwraps", () => {
    const leaf = ruleToTree({ in_audience: "vip" });
    const wrapped = toggleNot(leaf);
    expect(treeToRule(wrapped)).toEqual({ not: { in_audience: "vip" } });
    expect(treeToRule(toggleNot(wrapped))).toEqual({ in_audience: "vip" });
  });

  it("adds a condition beside a single leaf by making an AND group", () => {
    const root = ruleToTree({ field: "a", op: "eq", value: 1 });
    const next = addToRoot(root, ruleToTree({ filter: "f" }));
    expect(treeToRule(next)).toEqual({ all: [{ field: "a", op: "eq", value: 1 }, { filter: "f" }] });
    const again = addToRoot(next, ruleToTree({ in_audience: "x" }));
    expect((treeToRule(again) as { all: unknown[] }).all).toHaveLength(3);
    expect(treeToRule(addToRoot(null, ruleToTree({ filter: "f" })))).toEqual({ filter: "f" });
  });

  it("builds new leaves and groups the server can read", () => {
    expect(treeToRule(newLeaf("condition"))).toEqual({ field: "", op: "eq", value: "" });
    expect(treeToRule(newLeaf("aggregate"))).toEqual({ aggregate: { link: "", fn: "count" }, op: "gte", value: 1 });
    expect(treeToRule(newLeaf("exists"))).toEqual({ exists: { link: "" } });
    expect(treeToRule(newLeaf("engagement"))).toEqual({ engagement: { event: "opened" } });
    expect(treeToRule(newLeaf("in_audience"))).toEqual({ in_audience: "" });
    expect(treeToRule(newLeaf("filter"))).toEqual({ filter: "" });
    expect(treeToRule(newGroup("any"))).toEqual({ any: [{ field: "", op: "eq", value: "" }] });
  });

  it("sets and clears an aggregate's where", () => {
    const tree = ruleToTree({ aggregate: { link: "p", fn: "count" }, op: "gte", value: 2 });
    if (tree.kind !== "aggregate") throw new Error("not an aggregate");
    const withWhere = treeToRule({ ...tree, where: ruleToTree({ field: "c", op: "eq", value: "x" }) });
    expect(withWhere).toEqual({ aggregate: { link: "p", fn: "count", where: { field: "c", op: "eq", value: "x" } }, op: "gte", value: 2 });
    const back = ruleToTree(withWhere);
    if (back.kind !== "aggregate") throw new Error("not an aggregate");
    expect(treeToRule({ ...back, where: undefined })).toEqual({ aggregate: { link: "p", fn: "count" }, op: "gte", value: 2 });
  });
});

describe("operators and values", () => {
  it("reads type families as the server does", () => {
    expect(typeFamily("int64")).toBe("numeric");
    expect(typeFamily("!decimal(18, 3)")).toBe("numeric");
    expect(typeFamily("string")).toBe("string");
    expect(typeFamily("date")).toBe("date");
    expect(typeFamily("timestamp('UTC')")).toBe("timestamp");
    expect(typeFamily("boolean")).toBe("boolean");
    expect(typeFamily("array<string>")).toBe("other");
    expect(typeFamily(undefined)).toBe(null);
  });

  it("filters operators by type", () => {
    expect(operatorsFor("numeric")).not.toContain("contains");
    expect(operatorsFor("numeric")).toContain("between");
    expect(operatorsFor("string")).toContain("starts_with");
    expect(operatorsFor("date")).toContain("in_last");
    expect(operatorsFor("boolean")).toEqual(["eq", "ne", "is_empty", "is_not_empty"]);
    expect(operatorsFor(null)).toHaveLength(19);
  });

  it("says what value each operator takes", () => {
    expect(valueShape("is_empty")).toBe("none");
    expect(valueShape("in")).toBe("list");
    expect(valueShape("between")).toBe("pair");
    expect(valueShape("in_last")).toBe("duration");
    expect(valueShape("gte")).toBe("one");
  });

  it("adapts the value when the operator changes", () => {
    expect(adaptValue("FR", "in")).toEqual(["FR"]);
    expect(adaptValue("", "in")).toEqual([]);
    expect(adaptValue(["FR", "ES"], "eq")).toBe("FR");
    expect(adaptValue(5, "between")).toEqual([5, ""]);
    expect(adaptValue([1, 2, 3], "between")).toEqual([1, 2]);
    expect(adaptValue("x", "is_not_empty")).toBeUndefined();
    expect(adaptValue(undefined, "eq")).toBe("");
    expect(adaptValue("${vars.n}", "gte")).toBe("${vars.n}");
  });
});
