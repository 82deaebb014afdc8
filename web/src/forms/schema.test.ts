import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  BUNDLED_SCHEMA as root,
  activitySchema,
  activityTypes,
  choices,
  constraintProblem,
  humanize,
  initialValue,
  isRuleSchema,
  kindOf,
  labelFor,
  matches,
  resolve,
  singular,
  unwrapOptional,
  variantOf,
  variants,
  type JsonSchema,
} from "./schema";

const prop = (type: string, key: string): JsonSchema => activitySchema(root, type)!.properties![key];
const kind = (s: JsonSchema) => kindOf(unwrapOptional(s, root).schema, root);

describe("the bundled schema", () => {
  const python = fileURLToPath(new URL("../../../.venv/bin/python", import.meta.url));
  it.skipIf(!existsSync(python))("is the one the Python models generate", () => {
    const out = execFileSync(python, [
      "-c",
      "from overture.definition.campaign import campaign_json_schema as f; import json; print(json.dumps(f()))",
    ]);
    expect(JSON.parse(out.toString())).toEqual(root);
  });

  it("knows every activity type", () => {
    expect(activityTypes(root)).toContain("split");
    expect(activityTypes(root)).toHaveLength(21);
    for (const type of activityTypes(root)) expect(activitySchema(root, type)?.properties?.type).toBeTruthy();
    expect(activitySchema(root, "nope")).toBeNull();
  });
});

describe("resolve and unwrap", () => {
  it("follows $ref", () => {
    expect(resolve({ $ref: "#/$defs/Subset" }, root).title).toBe("Subset");
    expect(resolve({ $ref: "#/$defs/Nope" }, root)).toEqual({});
  });
  it("unwraps optional fields", () => {
    const limit = unwrapOptional(activitySchema(root, "split")!.properties!.subsets.items!, root);
    expect(limit.nullable).toBe(false);
    const subset = resolve({ $ref: "#/$defs/Subset" }, root);
    const l = unwrapOptional(subset.properties!.limit, root);
    expect(l.nullable).toBe(true);
    expect(l.schema.title).toBe("Limit");
    const content = unwrapOptional(prop("email", "html"), root);
    expect(content.nullable).toBe(true);
    expect(content.schema.anyOf).toHaveLength(2);
  });
});

describe("kinds of control", () => {
  it("tells each setting's control", () => {
    expect(kind(prop("build_audience", "rule"))).toBe("rule");
    expect(isRuleSchema(resolve({ $ref: "#/$defs/Subset" }, root).properties!.rule, root)).toBe(true);
    expect(isRuleSchema(prop("split", "subsets"), root)).toBe(false);
    expect(kind(prop("deduplicate", "keys"))).toBe("list");
    expect(kind(prop("deduplicate", "keep"))).toBe("object");
    expect(kind(prop("deduplicate", "normalize"))).toBe("enum");
    expect(kind(prop("deduplicate", "keep_count"))).toBe("integer");
    expect(kind(prop("deduplicate", "complement"))).toBe("boolean");
    expect(kind(prop("split", "subsets"))).toBe("objects");
    expect(kind(prop("test", "conditions"))).toBe("objects");
    expect(kind(prop("fork", "branches"))).toBe("list");
    expect(kind(prop("email", "variants"))).toBe("objects");
    expect(kind(prop("email", "languages"))).toBe("map");
    expect(kind(prop("email", "html"))).toBe("union");
    expect(kind(prop("email", "throttle"))).toBe("number");
    expect(kind(prop("email", "category"))).toBe("enum");
    expect(kind(prop("load_file", "columns"))).toBe("map");
    expect(kind(prop("end", "signal"))).toBe("object");
    expect(kind(resolve({ $ref: "#/$defs/Signal" }, root).properties!.variables)).toBe("any");
    expect(kind(resolve({ $ref: "#/$defs/Condition" }, root).properties!.value)).toBe("union");
    expect(kind(resolve({ $ref: "#/$defs/VariableSpec" }, root).properties!.default)).toBe("any");
    expect(kind(root.properties!.variables)).toBe("map");
    expect(kind(root.properties!.schedule)).toBe("any");
    expect(kind({ anyOf: [{ type: "string" }, { type: "integer" }] })).toBe("scalar");
  });

  it("lists the choices of enums and consts", () => {
    expect(choices(unwrapOptional(prop("deduplicate", "normalize"), root).schema, root)).toEqual(["lower_trim"]);
    expect(choices(prop("combine", "operation"), root)).toEqual(["union", "intersection", "exclusion"]);
    expect(choices({ type: "string" }, root)).toBeNull();
  });
});

describe("unions", () => {
  const html = unwrapOptional(prop("email", "html"), root).schema;
  it("names the variants", () => {
    expect(variants(html, root).map((v) => v.name)).toEqual(["text", "mapping"]);
  });
  it("finds the variant of a value", () => {
    expect(variantOf(html, "<p>Hi</p>", root)).toBe(0);
    expect(variantOf(html, { file: "templates/vip.html" }, root)).toBe(1);
    expect(variantOf(html, 3, root)).toBe(-1);
  });
  it("matches activities by their type", () => {
    const items = root.properties!.activities.items!;
    expect(variantOf(items, { id: "x", type: "split" }, root)).toBe(8);
    expect(matches({ $ref: "#/$defs/Email" }, { id: "x", type: "sms" }, root)).toBe(false);
  });
});

describe("initial values", () => {
  it("holds what is required, never a default", () => {
    expect(initialValue({ $ref: "#/$defs/Subset" }, root)).toEqual({ id: "" });
    expect(initialValue({ $ref: "#/$defs/TestCondition" }, root)).toEqual({ id: "", count: {} });
    expect(initialValue({ $ref: "#/$defs/KeepSpec" }, root)).toEqual({});
    expect(initialValue(prop("split", "overlap"), root)).toBeUndefined();
    expect(initialValue(resolve({ $ref: "#/$defs/Subset" }, root).properties!.limit, root)).toBeUndefined();
    expect(initialValue(prop("fork", "branches"), root)).toEqual([]);
  });
});

describe("constraints", () => {
  const percent = unwrapOptional(resolve({ $ref: "#/$defs/Limit" }, root).properties!.percent, root).schema;
  it("says what is wrong as the server does", () => {
    expect(constraintProblem(percent, 120, root)).toBe("must be between 0 and 100");
    expect(constraintProblem(percent, 50, root)).toBeNull();
    expect(constraintProblem(percent, "${vars.p}", root)).toBeNull();
    expect(constraintProblem(prop("split", "id"), "Bad", root)).toMatch(/must start with a lowercase letter/);
    expect(constraintProblem(prop("deduplicate", "keep_count"), -1, root)).toBe("must be at least 0");
    expect(constraintProblem(prop("deduplicate", "keep_count"), 1.5, root)).toBe("must be a whole number");
    expect(constraintProblem(unwrapOptional(prop("email", "throttle"), root).schema, 0, root)).toBe("must be more than 0");
    expect(constraintProblem(prop("deduplicate", "keys"), [], root)).toBe("must list at least 1 item");
    expect(constraintProblem(prop("alert", "title"), "", root)).toBe("must not be empty");
  });
});

describe("labels", () => {
  it("makes names readable", () => {
    expect(humanize("keep_count")).toBe("Keep count");
    expect(labelFor("keep_count", prop("deduplicate", "keep_count"))).toBe("Keep count");
    expect(labelFor("op", { title: "Op" })).toBe("Operator");
    expect(labelFor("x", { title: "A title someone wrote" })).toBe("A title someone wrote");
    expect(singular("Subsets")).toBe("Subset");
    expect(singular("Branches")).toBe("Branch");
    expect(singular("Entries")).toBe("Entry");
    expect(singular("Collect")).toBe("Collect");
  });
});
