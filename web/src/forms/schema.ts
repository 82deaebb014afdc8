// Reading the campaign's JSON Schema (Pydantic v2's output) for the generated forms.
//
// Pure functions, no React: resolve `$ref`, unwrap optional fields (`anyOf [X, null]`),
// tell what kind of control a schema needs, list a union's variants and find which one
// a value is, build the initial value of a new item, and check a value against the
// schema's constraints (the messages read like the server's).

import bundled from "./campaign-schema.json";

export interface JsonSchema {
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  [key: string]: unknown;
}

/** The schema shipped with the app, used until (or when) GET /api/schema/campaign answers. */
export const BUNDLED_SCHEMA = bundled as unknown as JsonSchema;

/** The `$defs` of the rule nodes (spec §3): a property whose schema points at them is a rule. */
export const RULE_DEFS = new Set([
  "All", "AnyOf", "Not", "Condition", "Exists", "Aggregate", "Engagement", "InAudience", "FilterRef",
]);

export function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf("/") + 1);
}

/** Follow `$ref` (JSON pointers into the root, such as `#/$defs/Subset`) until a schema has none. */
export function resolve(schema: JsonSchema | undefined, root: JsonSchema): JsonSchema {
  let current: JsonSchema = schema ?? {};
  for (let hops = 0; current.$ref && hops < 32; hops++) {
    const ref = current.$ref;
    if (!ref.startsWith("#/")) return {};
    let target: unknown = root;
    for (const raw of ref.slice(2).split("/")) {
      const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
      target = target && typeof target === "object" ? (target as Record<string, unknown>)[part] : undefined;
    }
    if (!target || typeof target !== "object") return {};
    // sibling keywords of a $ref (title, description) win over the target's
    const { $ref: _ignored, ...siblings } = current;
    current = { ...(target as JsonSchema), ...siblings };
  }
  return current;
}

const isNullSchema = (s: JsonSchema) => s.type === "null";

/** `anyOf [X, {type: null}]` → X and `nullable: true`; the outer title/description/default stay. */
export function unwrapOptional(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const s = resolve(schema, root);
  const members = s.anyOf ?? s.oneOf;
  if (members && members.some(isNullSchema)) {
    const rest = members.filter((m) => !isNullSchema(m));
    const { anyOf: _a, oneOf: _o, ...outer } = s;
    if (rest.length === 1) {
      const inner = resolve(rest[0], root);
      return { schema: { ...inner, ...pick(outer, ["title", "description", "default"]) }, nullable: true };
    }
    return { schema: { ...outer, anyOf: rest }, nullable: true };
  }
  return { schema: s, nullable: false };
}

function pick(s: JsonSchema, keys: string[]): JsonSchema {
  const out: JsonSchema = {};
  for (const k of keys) if (s[k] !== undefined) out[k] = s[k];
  return out;
}

/** A rule property: a union (possibly optional) whose members all point at the rule nodes. */
export function isRuleSchema(schema: JsonSchema | undefined, root: JsonSchema): boolean {
  if (!schema) return false;
  const { schema: s } = unwrapOptional(schema, root);
  const members = s.oneOf ?? s.anyOf;
  if (!members || members.length === 0) return false;
  return members.every((m) => {
    if (m.$ref) return RULE_DEFS.has(refName(m.$ref));
    const nested = m.oneOf ?? m.anyOf;
    return !!nested && nested.every((n) => !!n.$ref && RULE_DEFS.has(refName(n.$ref)));
  });
}

export type Kind =
  | "rule"
  | "enum"
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "scalar" // a union of scalar types (text, numbers, booleans): one text field
  | "list" // an array of scalars
  | "objects" // an array of objects
  | "map" // additionalProperties with a schema: name + value rows
  | "object"
  | "union"
  | "any"; // unknown shape: a YAML text field

const SCALARS = new Set(["string", "number", "integer", "boolean"]);

function types(s: JsonSchema): string[] {
  return s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
}

/** The choices of an enum-like schema: `enum`, `const`, or a union of `const`s. */
export function choices(schema: JsonSchema, root: JsonSchema): unknown[] | null {
  const s = resolve(schema, root);
  if (s.enum) return s.enum;
  if ("const" in s) return [s.const];
  const members = s.anyOf ?? s.oneOf;
  if (members && members.length) {
    const out: unknown[] = [];
    for (const m of members) {
      const c = choices(m, root);
      if (!c) return null;
      out.push(...c);
    }
    return out;
  }
  return null;
}

/** Whether every member of a union is a scalar type (so one text field can hold it). */
function scalarUnion(members: JsonSchema[], root: JsonSchema): boolean {
  return members.every((m) => {
    const r = resolve(m, root);
    const t = types(r);
    return t.length > 0 && t.every((x) => SCALARS.has(x) || x === "null") && !r.enum && !("const" in r);
  });
}

/** What kind of control a (non-null, already unwrapped) schema needs. */
export function kindOf(schema: JsonSchema, root: JsonSchema): Kind {
  if (isRuleSchema(schema, root)) return "rule";
  const s = resolve(schema, root);
  if (choices(s, root)) return "enum";
  const members = s.anyOf ?? s.oneOf;
  if (members && members.length) {
    const rest = members.filter((m) => !isNullSchema(m));
    if (rest.length === 1) return kindOf(rest[0], root);
    return scalarUnion(rest, root) ? "scalar" : "union";
  }
  const t = types(s).filter((x) => x !== "null");
  if (t.length > 1) return t.every((x) => SCALARS.has(x)) ? "scalar" : "any";
  switch (t[0]) {
    case "string":
      return "string";
    case "number":
      return "number";
    case "integer":
      return "integer";
    case "boolean":
      return "boolean";
    case "array": {
      const items = resolve(s.items, root);
      const itemKind = s.items ? kindOf(items, root) : "any";
      if (itemKind === "object" || itemKind === "union" || itemKind === "rule") return "objects";
      if (["string", "number", "integer", "boolean", "scalar", "enum", "any"].includes(itemKind)) return "list";
      return "any";
    }
    case "object":
      if (s.properties && Object.keys(s.properties).length) return "object";
      if (s.additionalProperties && typeof s.additionalProperties === "object") return "map";
      return "any";
    default:
      return s.properties ? "object" : "any";
  }
}

/** The members of a union (null excluded), each resolved, with a readable name. */
export function variants(schema: JsonSchema, root: JsonSchema): { name: string; schema: JsonSchema }[] {
  const s = resolve(schema, root);
  const members = (s.anyOf ?? s.oneOf ?? []).filter((m) => !isNullSchema(m));
  const disc = s.discriminator?.propertyName;
  return members.map((m) => {
    const r = resolve(m, root);
    return { name: variantName(r, root, disc), schema: r };
  });
}

function variantName(s: JsonSchema, root: JsonSchema, disc?: string): string {
  if (disc && s.properties?.[disc]) {
    const c = choices(s.properties[disc], root);
    if (c && c.length === 1) return String(c[0]);
  }
  const t = types(s);
  if (t[0] === "object" && !s.properties && s.additionalProperties) return "mapping";
  if (t[0] === "array") return "list";
  if (t[0] === "string") return "text";
  if (t[0] === "integer" || t[0] === "number") return "number";
  if (t[0] === "boolean") return "yes/no";
  return s.title ?? t[0] ?? "value";
}

/** Whether a value has the shape of a schema (types, constants and discriminators only). */
export function matches(schema: JsonSchema, value: unknown, root: JsonSchema): boolean {
  const s = resolve(schema, root);
  if ("const" in s) return value === s.const;
  if (s.enum) return s.enum.includes(value);
  const members = s.anyOf ?? s.oneOf;
  if (members) return members.some((m) => matches(m, value, root));
  const t = types(s);
  if (t.length === 0) return true;
  return t.some((x) => {
    switch (x) {
      case "null":
        return value === null;
      case "string":
        return typeof value === "string";
      case "integer":
        return typeof value === "number" && Number.isInteger(value);
      case "number":
        return typeof value === "number";
      case "boolean":
        return typeof value === "boolean";
      case "array":
        return Array.isArray(value);
      case "object": {
        if (!isObject(value)) return false;
        // a const property (a discriminator such as `type`) must match too
        for (const [k, p] of Object.entries(s.properties ?? {})) {
          const rp = resolve(p, root);
          if ("const" in rp && k in value && value[k] !== rp.const) return false;
          if ("const" in rp && !(k in value) && s.required?.includes(k)) return false;
        }
        return true;
      }
      default:
        return false;
    }
  });
}

/** The index of the variant a value is, or -1. */
export function variantOf(schema: JsonSchema, value: unknown, root: JsonSchema): number {
  return variants(schema, root).findIndex((v) => matches(v.schema, value, root));
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The value a new item (or a newly chosen variant) starts with: only what is required,
 * never a default (documents stay minimal). `undefined` when nothing is needed.
 */
export function initialValue(schema: JsonSchema, root: JsonSchema): unknown {
  const { schema: s, nullable } = unwrapOptional(schema, root);
  if (nullable) return undefined;
  const c = choices(s, root);
  if (c && c.length === 1) return c[0];
  if (c) return undefined;
  const members = s.anyOf ?? s.oneOf;
  if (members && members.length) return initialValue(members[0], root);
  switch (types(s)[0]) {
    case "string":
      return "";
    case "array":
      return [];
    case "object": {
      const out: Record<string, unknown> = {};
      for (const key of s.required ?? []) {
        const v = initialValue(s.properties?.[key] ?? {}, root);
        if (v !== undefined) out[key] = v;
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** The properties of an object schema that a form may set, in schema order. */
export function properties(schema: JsonSchema, root: JsonSchema): [string, JsonSchema][] {
  return Object.entries(resolve(schema, root).properties ?? {});
}

export function isRequired(schema: JsonSchema, key: string, root: JsonSchema): boolean {
  return !!resolve(schema, root).required?.includes(key);
}

/** The schema of one activity type (`Split` for `split`), from the document's discriminator. */
export function activitySchema(root: JsonSchema, type: string): JsonSchema | null {
  const items = root.properties?.activities?.items;
  const ref = items?.discriminator?.mapping?.[type];
  if (ref) return resolve({ $ref: ref }, root);
  for (const member of items?.oneOf ?? items?.anyOf ?? []) {
    const s = resolve(member, root);
    if (s.properties?.type && resolve(s.properties.type, root).const === type) return s;
  }
  return null;
}

export function activityTypes(root: JsonSchema): string[] {
  return Object.keys(root.properties?.activities?.items?.discriminator?.mapping ?? {});
}

// ---- labels ----

const LABELS: Record<string, string> = {
  id: "ID",
  op: "Operator",
  fn: "Function",
  from: "From",
  html: "HTML",
  reply_to: "Reply to",
  on_error: "On error",
  keep_count: "Keep count",
  test_value: "Test value",
  max_consecutive: "Max consecutive errors",
  include_machine: "Include machine opens and clicks",
  keep_unmatched: "Keep unmatched",
  fallback_language: "Fallback language",
  history_days: "History days",
};

/** `keep_count` → `Keep count`. */
export function humanize(key: string): string {
  if (LABELS[key]) return LABELS[key];
  const words = key.replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : key;
}

/** Pydantic's automatic title for a field name (`keep_count` → `Keep Count`). */
function autoTitle(key: string): string {
  return key
    .split("_")
    .map((w) => (w ? w[0].toUpperCase() + w.slice(1) : w))
    .join(" ");
}

/** A field's label: the schema's own title when someone wrote one, else the name made readable. */
export function labelFor(key: string, schema: JsonSchema | undefined): string {
  const title = schema?.title;
  if (title && title !== autoTitle(key) && !schema?.$ref) return title;
  return humanize(key);
}

/** `Subsets` → `Subset`, `Branches` → `Branch`, `Entries` → `Entry`. */
export function singular(word: string): string {
  if (/ies$/i.test(word)) return word.slice(0, -3) + "y";
  if (/(ch|sh|ss|x)es$/i.test(word)) return word.slice(0, -2);
  if (/[^s]s$/i.test(word)) return word.slice(0, -1);
  return word;
}

// ---- constraints ----

function num(n: number): string {
  return String(n);
}

/**
 * What is wrong with a value against the schema's own constraints, said like the
 * server says it (errors.py); null when nothing is. Text standing for a number, such
 * as `${vars.min_spend}`, is not judged here: the server knows the variables.
 */
export function constraintProblem(schema: JsonSchema, value: unknown, root: JsonSchema): string | null {
  const s = resolve(schema, root);
  if (value === undefined || value === null) return null;
  if (typeof value === "number") {
    if (types(s).includes("integer") && !Number.isInteger(value)) return "must be a whole number";
    const range = s.minimum !== undefined && s.maximum !== undefined;
    if (s.minimum !== undefined && value < s.minimum)
      return range ? `must be between ${num(s.minimum)} and ${num(s.maximum!)}` : `must be at least ${num(s.minimum)}`;
    if (s.maximum !== undefined && value > s.maximum)
      return range ? `must be between ${num(s.minimum!)} and ${num(s.maximum)}` : `must be at most ${num(s.maximum)}`;
    if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) return `must be more than ${num(s.exclusiveMinimum)}`;
    if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum) return `must be less than ${num(s.exclusiveMaximum)}`;
    return null;
  }
  if (typeof value === "string") {
    if (!types(s).includes("string")) return null;
    if (s.minLength !== undefined && value.length < s.minLength)
      return s.minLength === 1 ? "must not be empty" : `must be at least ${s.minLength} characters`;
    if (s.maxLength !== undefined && value.length > s.maxLength) return `must be at most ${s.maxLength} characters`;
    if (s.pattern && value !== "") {
      let re: RegExp | null = null;
      try {
        re = new RegExp(s.pattern, "u");
      } catch {
        re = null;
      }
      if (re && !re.test(value)) return patternMessage(s.pattern, value);
    }
    return null;
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems)
      return `must list at least ${s.minItems} item${s.minItems === 1 ? "" : "s"}`;
    if (s.maxItems !== undefined && value.length > s.maxItems)
      return `must list at most ${s.maxItems} item${s.maxItems === 1 ? "" : "s"}`;
  }
  return null;
}

const PATTERNS: Record<string, string> = {
  "^[a-z][a-z0-9_]*$": "must start with a lowercase letter and use only lowercase letters, digits and _",
  "^[a-z0-9][a-z0-9_-]*$":
    "must start with a lowercase letter or a digit and use only lowercase letters, digits, - and _",
};

function patternMessage(pattern: string, value: string): string {
  return `'${value}' ${PATTERNS[pattern] ?? `must match ${pattern}`}`;
}

/** A short note of the constraints, shown as help (`0 to 100`, `at least 1`). */
export function constraintHint(schema: JsonSchema, root: JsonSchema): string | null {
  const s = resolve(schema, root);
  const parts: string[] = [];
  if (s.minimum !== undefined && s.maximum !== undefined) parts.push(`${s.minimum} to ${s.maximum}`);
  else if (s.minimum !== undefined) parts.push(`at least ${s.minimum}`);
  else if (s.maximum !== undefined) parts.push(`at most ${s.maximum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`more than ${s.exclusiveMinimum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`less than ${s.exclusiveMaximum}`);
  if (types(s).includes("integer")) parts.push("a whole number");
  if (s.pattern && PATTERNS[s.pattern]) parts.push(s.pattern === "^[a-z][a-z0-9_]*$" ? "lowercase letters, digits and _" : "lowercase letters, digits, - and _");
  return parts.length ? parts.join(", ") : null;
}
