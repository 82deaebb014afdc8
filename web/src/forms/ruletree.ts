// The rule language of spec §3, as the rule builder edits it: a tree of groups and
// leaves, converted to and from the rule document without loss.
//
// Each node keeps the mapping it was read from (`source`), so keys the builder does
// not know and the order of keys come back unchanged: `treeToRule(ruleToTree(r))`
// is `r`, key order included, for every rule (tests: ruletree.test.ts). A mapping the
// builder cannot read is an `unknown` node holding it as is.
//
// The node kind is found as the server finds it (rules.py `_rule_kind`): the first
// of all, any, not, exists, aggregate, engagement, in_audience, filter the mapping
// holds, else `field`.

export type Rule = unknown;
type Obj = Record<string, unknown>;

export type GroupKind = "all" | "any";

export interface GroupNode {
  kind: GroupKind;
  children: RuleNode[];
  source: Obj;
}
export interface NotNode {
  kind: "not";
  child: RuleNode;
  source: Obj;
}
export interface ConditionNode {
  kind: "condition";
  field: string;
  op: string;
  /** `undefined`: no `value` key (unary operators) */
  value?: unknown;
  source: Obj;
}
export interface AggregateNode {
  kind: "aggregate";
  link: string;
  fn: string;
  field?: string;
  where?: RuleNode;
  op: string;
  value?: unknown;
  /** the inner `aggregate:` mapping as read */
  spec: Obj;
  source: Obj;
}
export interface ExistsNode {
  kind: "exists";
  link: string;
  where?: RuleNode;
  spec: Obj;
  source: Obj;
}
export interface EngagementNode {
  kind: "engagement";
  event: string;
  campaign?: string;
  activity?: string;
  within?: string;
  includeMachine?: boolean;
  spec: Obj;
  source: Obj;
}
export interface AudienceNode {
  kind: "in_audience";
  name: string;
  source: Obj;
}
export interface FilterNode {
  kind: "filter";
  name: string;
  source: Obj;
}
export interface UnknownNode {
  kind: "unknown";
  source: unknown;
}

export type RuleNode =
  | GroupNode
  | NotNode
  | ConditionNode
  | AggregateNode
  | ExistsNode
  | EngagementNode
  | AudienceNode
  | FilterNode
  | UnknownNode;

export type LeafKind = "condition" | "aggregate" | "exists" | "engagement" | "in_audience" | "filter";

const KINDS = ["all", "any", "not", "exists", "aggregate", "engagement", "in_audience", "filter"] as const;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === "string";
const optStr = (v: unknown): v is string | undefined => v === undefined || typeof v === "string";

/** The kind the server reads a rule mapping as, or null. */
export function ruleKind(value: unknown): string | null {
  if (!isObj(value)) return null;
  for (const kind of KINDS) if (kind in value) return kind;
  return "field" in value ? "field" : null;
}

/** Only the keys a kind owns may be present for the builder to edit the node. */
function onlyKeys(obj: Obj, allowed: string[]): boolean {
  return Object.keys(obj).every((k) => allowed.includes(k));
}

/** Read a rule document (one node and all below it). `null`/absent is no rule. */
export function ruleToTree(rule: Rule): RuleNode {
  const unknown: UnknownNode = { kind: "unknown", source: rule };
  if (!isObj(rule)) return unknown;
  const kind = ruleKind(rule);
  switch (kind) {
    case "all":
    case "any": {
      const list = rule[kind];
      if (!Array.isArray(list) || !onlyKeys(rule, [kind])) return unknown;
      return { kind, children: list.map(ruleToTree), source: rule };
    }
    case "not":
      if (!onlyKeys(rule, ["not"]) || !isObj(rule.not)) return unknown;
      return { kind: "not", child: ruleToTree(rule.not), source: rule };
    case "field": {
      if (!onlyKeys(rule, ["field", "op", "value"]) || !str(rule.field) || !str(rule.op)) return unknown;
      const node: ConditionNode = { kind: "condition", field: rule.field, op: rule.op, source: rule };
      if ("value" in rule) node.value = rule.value;
      return node;
    }
    case "aggregate": {
      const spec = rule.aggregate;
      if (!onlyKeys(rule, ["aggregate", "op", "value"]) || !isObj(spec) || !str(rule.op)) return unknown;
      if (!onlyKeys(spec, ["link", "fn", "field", "where"]) || !str(spec.link) || !str(spec.fn)) return unknown;
      if (!optStr(spec.field) || (spec.where !== undefined && !isObj(spec.where))) return unknown;
      const node: AggregateNode = { kind: "aggregate", link: spec.link, fn: spec.fn, op: rule.op, spec, source: rule };
      if (spec.field !== undefined) node.field = spec.field;
      if (spec.where !== undefined) node.where = ruleToTree(spec.where);
      if ("value" in rule) node.value = rule.value;
      return node;
    }
    case "exists": {
      const spec = rule.exists;
      if (!onlyKeys(rule, ["exists"]) || !isObj(spec) || !onlyKeys(spec, ["link", "where"]) || !str(spec.link))
        return unknown;
      if (spec.where !== undefined && !isObj(spec.where)) return unknown;
      const node: ExistsNode = { kind: "exists", link: spec.link, spec, source: rule };
      if (spec.where !== undefined) node.where = ruleToTree(spec.where);
      return node;
    }
    case "engagement": {
      const spec = rule.engagement;
      if (!onlyKeys(rule, ["engagement"]) || !isObj(spec) || !str(spec.event)) return unknown;
      if (!onlyKeys(spec, ["event", "campaign", "activity", "within", "include_machine"])) return unknown;
      if (!optStr(spec.campaign) || !optStr(spec.activity) || !optStr(spec.within)) return unknown;
      if (spec.include_machine !== undefined && typeof spec.include_machine !== "boolean") return unknown;
      const node: EngagementNode = { kind: "engagement", event: spec.event, spec, source: rule };
      if (spec.campaign !== undefined) node.campaign = spec.campaign;
      if (spec.activity !== undefined) node.activity = spec.activity;
      if (spec.within !== undefined) node.within = spec.within;
      if (spec.include_machine !== undefined) node.includeMachine = spec.include_machine;
      return node;
    }
    case "in_audience":
      if (!onlyKeys(rule, ["in_audience"]) || !str(rule.in_audience)) return unknown;
      return { kind: "in_audience", name: rule.in_audience, source: rule };
    case "filter":
      if (!onlyKeys(rule, ["filter"]) || !str(rule.filter)) return unknown;
      return { kind: "filter", name: rule.filter, source: rule };
    default:
      return unknown;
  }
}

/**
 * Write `values` over `source`: a key already there keeps its place, a new one goes
 * last, `undefined` removes it; keys of `owned` not in `values` are removed.
 */
function compose(source: Obj, owned: string[], values: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(source)) {
    if (k in values) {
      if (values[k] !== undefined) out[k] = values[k];
    } else if (!owned.includes(k)) {
      out[k] = v;
    }
  }
  for (const [k, v] of Object.entries(values)) if (!(k in source) && v !== undefined) out[k] = v;
  return out;
}

/** Write the tree back as a rule document. */
export function treeToRule(node: RuleNode): Rule {
  switch (node.kind) {
    case "unknown":
      return node.source;
    case "all":
    case "any":
      return compose(node.source, ["all", "any"], { [node.kind]: node.children.map(treeToRule) });
    case "not":
      return compose(node.source, ["not"], { not: treeToRule(node.child) });
    case "condition":
      return compose(node.source, ["field", "op", "value"], { field: node.field, op: node.op, value: node.value });
    case "aggregate": {
      const spec = compose(node.spec, ["link", "fn", "field", "where"], {
        link: node.link,
        fn: node.fn,
        field: node.field,
        where: node.where && treeToRule(node.where),
      });
      return compose(node.source, ["aggregate", "op", "value"], { aggregate: spec, op: node.op, value: node.value });
    }
    case "exists": {
      const spec = compose(node.spec, ["link", "where"], { link: node.link, where: node.where && treeToRule(node.where) });
      return compose(node.source, ["exists"], { exists: spec });
    }
    case "engagement": {
      const spec = compose(node.spec, ["event", "campaign", "activity", "within", "include_machine"], {
        event: node.event,
        campaign: node.campaign,
        activity: node.activity,
        within: node.within,
        include_machine: node.includeMachine,
      });
      return compose(node.source, ["engagement"], { engagement: spec });
    }
    case "in_audience":
      return compose(node.source, ["in_audience"], { in_audience: node.name });
    case "filter":
      return compose(node.source, ["filter"], { filter: node.name });
  }
}

// ---- building new nodes ----

export function newLeaf(kind: LeafKind): RuleNode {
  switch (kind) {
    case "condition":
      return { kind: "condition", field: "", op: "eq", value: "", source: {} };
    case "aggregate":
      return { kind: "aggregate", link: "", fn: "count", op: "gte", value: 1, spec: {}, source: {} };
    case "exists":
      return { kind: "exists", link: "", spec: {}, source: {} };
    case "engagement":
      return { kind: "engagement", event: "opened", spec: {}, source: {} };
    case "in_audience":
      return { kind: "in_audience", name: "", source: {} };
    case "filter":
      return { kind: "filter", name: "", source: {} };
  }
}

export function newGroup(kind: GroupKind, children: RuleNode[] = [newLeaf("condition")]): GroupNode {
  return { kind, children, source: {} };
}

export function isGroup(node: RuleNode): node is GroupNode {
  return node.kind === "all" || node.kind === "any";
}

export function isLeaf(node: RuleNode): boolean {
  return !isGroup(node) && node.kind !== "not";
}

/** Wrap a node in `not`; unwrap when it already is one. */
export function toggleNot(node: RuleNode): RuleNode {
  if (node.kind === "not") return node.child;
  return { kind: "not", child: node, source: {} };
}

/**
 * Add a node beside the root: a group gets a new child; a leaf (or a `not`) becomes
 * the first child of a new `all` group.
 */
export function addToRoot(root: RuleNode | null, node: RuleNode): RuleNode {
  if (!root) return node;
  if (isGroup(root)) return { ...root, children: [...root.children, node] };
  return newGroup("all", [root, node]);
}

/** Switch a group between AND and OR, keeping its children. */
export function switchGroup(node: GroupNode, kind: GroupKind): GroupNode {
  return { ...node, kind };
}

// ---- operators and values ----

export const OPERATORS = [
  "eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", "is_empty", "is_not_empty",
  "starts_with", "not_starts_with", "contains", "not_contains", "like", "not_like", "in_last", "not_in_last",
] as const;

export const OPERATOR_LABELS: Record<string, string> = {
  eq: "equals",
  ne: "does not equal",
  gt: "greater than",
  gte: "at least",
  lt: "less than",
  lte: "at most",
  between: "between",
  in: "is one of",
  not_in: "is none of",
  is_empty: "is empty",
  is_not_empty: "is not empty",
  starts_with: "starts with",
  not_starts_with: "does not start with",
  contains: "contains",
  not_contains: "does not contain",
  like: "is like (% and _)",
  not_like: "is not like",
  in_last: "in the last",
  not_in_last: "not in the last",
};

export const UNARY_OPERATORS = new Set(["is_empty", "is_not_empty"]);
export const LIST_OPERATORS = new Set(["in", "not_in"]);
export const DURATION_OPERATORS = new Set(["in_last", "not_in_last"]);
export const AGGREGATE_FNS = ["count", "sum", "avg", "min", "max", "count_distinct"];
export const ENGAGEMENT_EVENTS = [
  "sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "complained", "excluded",
];

export type TypeFamily = "numeric" | "string" | "date" | "timestamp" | "boolean" | "other";

/** The family of a data-plane type name (`int64`, `!string`, `decimal(18, 3)`), as resolve.py says. */
export function typeFamily(dtype: string | null | undefined): TypeFamily | null {
  if (!dtype) return null;
  const d = dtype.toLowerCase().replace(/^!/, "");
  if (/^(int|uint|float|decimal)/.test(d)) return "numeric";
  if (d.startsWith("string")) return "string";
  if (d.startsWith("date")) return "date";
  if (d.startsWith("timestamp")) return "timestamp";
  if (d.startsWith("bool")) return "boolean";
  return "other";
}

const COMPARE = ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in"];
const EMPTY = ["is_empty", "is_not_empty"];
const TEXT = ["starts_with", "not_starts_with", "contains", "not_contains", "like", "not_like"];
const TIME = ["in_last", "not_in_last"];

/** The operators that make sense for a column of this type (all of them when unknown). */
export function operatorsFor(family: TypeFamily | null): string[] {
  switch (family) {
    case "numeric":
      return [...COMPARE, ...EMPTY];
    case "string":
      return [...COMPARE, ...EMPTY, ...TEXT];
    case "date":
    case "timestamp":
      return [...COMPARE, ...TIME, ...EMPTY];
    case "boolean":
      return ["eq", "ne", ...EMPTY];
    default:
      return [...OPERATORS];
  }
}

export type ValueShape = "none" | "one" | "list" | "pair" | "duration";

export function valueShape(op: string): ValueShape {
  if (UNARY_OPERATORS.has(op)) return "none";
  if (LIST_OPERATORS.has(op)) return "list";
  if (op === "between") return "pair";
  if (DURATION_OPERATORS.has(op)) return "duration";
  return "one";
}

/**
 * The value kept when the operator changes: dropped for unary operators, made a list
 * for in/not_in (a single value becomes its only item), a pair for between, the
 * first item when going back to a single value.
 */
export function adaptValue(value: unknown, op: string): unknown {
  switch (valueShape(op)) {
    case "none":
      return undefined;
    case "list":
      if (Array.isArray(value)) return value;
      return value === undefined || value === null || value === "" ? [] : [value];
    case "pair":
      if (Array.isArray(value)) return [value[0] ?? "", value[1] ?? ""];
      return [value ?? "", ""];
    case "duration":
      return typeof value === "string" ? value : "";
    default:
      if (Array.isArray(value)) return value[0] ?? "";
      return value === undefined ? "" : value;
  }
}

/** A `${vars.NAME}` reference (the whole value). */
export const VARIABLE_RE = /^\$\{\s*vars\.[A-Za-z_][A-Za-z0-9_]*\s*\}$/;

/** A short sentence for a node, for the collapsed view and screen readers. */
export function describe(node: RuleNode): string {
  const v = (x: unknown) => (Array.isArray(x) ? `[${x.join(", ")}]` : x === undefined ? "" : String(x));
  switch (node.kind) {
    case "all":
      return `all of ${node.children.length}`;
    case "any":
      return `any of ${node.children.length}`;
    case "not":
      return `not (${describe(node.child)})`;
    case "condition":
      return `${node.field} ${OPERATOR_LABELS[node.op] ?? node.op} ${v(node.value)}`.trim();
    case "aggregate":
      return `${node.fn}(${node.link}${node.field ? "." + node.field : ""}) ${OPERATOR_LABELS[node.op] ?? node.op} ${v(node.value)}`.trim();
    case "exists":
      return `has ${node.link}${node.where ? " where " + describe(node.where) : ""}`;
    case "engagement":
      return `${node.event}${node.campaign ? " in " + node.campaign : ""}${node.within ? " within " + node.within : ""}`;
    case "in_audience":
      return `in audience ${node.name}`;
    case "filter":
      return `filter ${node.name}`;
    case "unknown":
      return "a rule the builder cannot show";
  }
}
