// The visual rule builder (spec §3): AND/OR groups, NOT, and leaves (field comparison,
// aggregate, exists, engagement, saved audience, saved filter), with a Calculate
// button (POST /api/rules/count) and the SQL the engine runs (POST /api/rules/sql).
//
// The builder edits the rule document through the lossless tree of ruletree.ts: what
// it does not know it keeps. Every control is named after its place: the leaves of
// the top group are `condition 1`, `condition 2`…, those of a nested group `2.1`,
// those of an aggregate's or exists' where `3 where`, `3 where 1`…

import { useEffect, useId, useMemo, useRef, useState, type ReactNode } from "react";
import type { CampaignDocument } from "../canvas/convert";
import { errorMessage, formsApi, isAbort, useAudiences, useFilters, type LinkInfo } from "./api";
import { findField, useFieldCatalog, type FieldCatalog, type FieldInfo } from "./catalog";
import {
  Field,
  FieldDatalist,
  NumberishInput,
  Picker,
  ProblemList,
  ProblemSummary,
  YamlInput,
  useDebounced,
  type InputA11y,
  type PickerOption,
} from "./fields";
import { formatScalar, parseNumberish, removeAt, replaceAt, type PathProblem } from "./paths";
import {
  AGGREGATE_FNS,
  ENGAGEMENT_EVENTS,
  OPERATOR_LABELS,
  adaptValue,
  addToRoot,
  isGroup,
  newGroup,
  newLeaf,
  operatorsFor,
  ruleToTree,
  toggleNot,
  treeToRule,
  typeFamily,
  valueShape,
  type AggregateNode,
  type ConditionNode,
  type EngagementNode,
  type ExistsNode,
  type GroupNode,
  type LeafKind,
  type RuleNode,
  type TypeFamily,
} from "./ruletree";

export interface RuleBuilderProps {
  /** the accessible name of the builder: "Rule", or "Rule of subset vip" */
  label?: string;
  /** the rule document (undefined: no rule) */
  value: unknown;
  onChange: (next: unknown) => void;
  /** unique prefix of control ids */
  idPrefix: string;
  /** problems with paths relative to the rule (`all[0].value`; `` for the rule itself) */
  problems?: PathProblem[];
  /** the table the rule reads (the dimension); null: unknown */
  table: string | null;
  /** what Calculate and SQL send: the whole current document and `ACTIVITY` or `ACTIVITY.SUBSET` */
  count?: { document: CampaignDocument; activity: string } | null;
  /** the campaign's variable names, offered as `${vars.NAME}` */
  variables?: string[];
}

interface Ctx {
  idPrefix: string;
  problems: PathProblem[];
  catalog: FieldCatalog;
  variables: string[];
}

const LEAF_KINDS: { kind: LeafKind; label: string }[] = [
  { kind: "condition", label: "Field comparison" },
  { kind: "aggregate", label: "Aggregate of related rows" },
  { kind: "exists", label: "Related rows exist" },
  { kind: "engagement", label: "Engagement (sent, opened…)" },
  { kind: "in_audience", label: "In a saved audience" },
  { kind: "filter", label: "Saved filter" },
];

const leafLabel = (number: string) => `condition ${number}`;
const groupLabel = (number: string) => (number === "" ? "rule" : `group ${number}`);
const nodeLabel = (node: RuleNode, number: string): string =>
  node.kind === "not" ? nodeLabel(node.child, number) : isGroup(node) ? groupLabel(number) : leafLabel(number);

function childNumber(prefix: string, index: number): string {
  if (prefix === "") return String(index + 1);
  return prefix.endsWith("where") ? `${prefix} ${index + 1}` : `${prefix}.${index + 1}`;
}

const join = (path: string, part: string) => (path ? (part.startsWith("[") ? path + part : `${path}.${part}`) : part);
const safeId = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, "_");

/** The problems about a leaf: its path and below, except inside its own `where` rule. */
function leafProblems(problems: PathProblem[], path: string): string[] {
  return problems
    .filter((p) => {
      if (path === "") return true;
      if (p.path === path) return true;
      if (!(p.path.startsWith(path + ".") || p.path.startsWith(path + "(") || p.path.startsWith(path + "["))) return false;
      const rest = p.path.slice(path.length + 1);
      return !rest.startsWith("aggregate.where") && !rest.startsWith("exists.where");
    })
    .map((p) => (p.path === path ? p.message : `${p.path.slice(path.length).replace(/^\./, "")}: ${p.message}`));
}

export function RuleBuilder({
  label = "Rule",
  value,
  onChange,
  idPrefix,
  problems = [],
  table,
  count,
  variables = [],
}: RuleBuilderProps) {
  const catalog = useFieldCatalog(table);
  const tree = useMemo(() => (value === undefined || value === null ? null : ruleToTree(value)), [value]);
  const set = (next: RuleNode | null) => onChange(next ? treeToRule(next) : undefined);
  const ctx: Ctx = { idPrefix, problems, catalog, variables };
  const datalistId = `${idPrefix}-fields`;
  return (
    <div role="group" aria-label={label} className="rule-builder">
      <div className="rule-head">
        <strong>{label}</strong>
        {catalog.error ? <span className="warning">Field list unavailable: {catalog.error}</span> : null}
      </div>
      <FieldDatalist id={datalistId} fields={catalog.fields} />
      {problems.some((p) => p.path === "") ? <ProblemSummary problems={problems.filter((p) => p.path === "")} title="Rule problems" /> : null}
      <RuleRoot node={tree} onChange={set} prefix="" path="" ctx={ctx} fieldList={datalistId} />
      {count ? <RuleTools document={count.document} activity={count.activity} rule={value} /> : null}
    </div>
  );
}

/** A rule's root (the top, or an exists/aggregate `where`), with Add condition and Add group. */
function RuleRoot({
  node,
  onChange,
  prefix,
  path,
  ctx,
  fieldList,
}: {
  node: RuleNode | null;
  onChange: (next: RuleNode | null) => void;
  prefix: string;
  path: string;
  ctx: Ctx;
  fieldList: string;
}) {
  const isTop = prefix === "";
  const where = isTop ? "" : ` to ${groupLabel(prefix)}`;
  const addButtons = (
    <div className="rule-actions">
      <AddButtons to={where} onAdd={(added) => onChange(addToRoot(node, added))} />
    </div>
  );
  if (!node) {
    return (
      <div className="rule-empty">
        <p className="muted">{isTop ? "No rule: every profile of the dimension." : "No condition on the related rows."}</p>
        {addButtons}
      </div>
    );
  }
  if (isGroup(node)) {
    return <GroupEditor node={node} number={prefix} path={path} onChange={onChange} ctx={ctx} fieldList={fieldList} root />;
  }
  return (
    <>
      <NodeEditor node={node} number={isTop ? "1" : prefix} path={path} onChange={onChange} ctx={ctx} fieldList={fieldList} />
      {addButtons}
    </>
  );
}

/** + Condition and + Group; `to` ends their names (` to group 2`). */
function AddButtons({ to, onAdd }: { to: string; onAdd: (node: RuleNode) => void }) {
  return (
    <>
      <button type="button" aria-label={`Add condition${to}`} onClick={() => onAdd(newLeaf("condition"))}>
        + Condition
      </button>
      <button type="button" aria-label={`Add group${to}`} onClick={() => onAdd(newGroup("any"))}>
        + Group
      </button>
    </>
  );
}

/** What the editor of a node is given: the node, its number (`2.1`), its problem path, and how it changes (null: removed). */
interface NodeProps<N extends RuleNode = RuleNode> {
  node: N;
  number: string;
  path: string;
  onChange: (next: RuleNode | null) => void;
  ctx: Ctx;
  fieldList: string;
}

function NodeEditor(props: NodeProps) {
  const { node, number, path, onChange, ctx, fieldList } = props;
  if (isGroup(node)) return <GroupEditor {...props} node={node} />;
  if (node.kind === "not") {
    const name = nodeLabel(node.child, number);
    return (
      <div className="rule-not" role="group" aria-label={`NOT ${name}`}>
        <div className="rule-not-head">
          <span className="rule-badge">NOT</span>
          <button type="button" aria-label={`Remove NOT from ${name}`} onClick={() => onChange(node.child)}>
            Remove NOT
          </button>
        </div>
        <NodeEditor
          node={node.child}
          number={number}
          path={join(path, "not")}
          onChange={(child) => onChange(child ? { ...node, child } : null)}
          ctx={ctx}
          fieldList={fieldList}
        />
      </div>
    );
  }
  return <LeafEditor node={node} number={number} path={path} onChange={onChange} ctx={ctx} fieldList={fieldList} />;
}

function GroupEditor({ node, number, path, onChange, ctx, fieldList, root }: NodeProps<GroupNode> & { root?: boolean }) {
  const isTop = root && number === "";
  const name = groupLabel(number);
  const to = isTop ? "" : ` to ${name}`;
  const of = isTop ? "" : ` of ${name}`;
  const selectId = `${ctx.idPrefix}-${safeId(name)}-match`;
  const messages = path ? ctx.problems.filter((p) => p.path === path).map((p) => p.message) : [];
  const setChild = (i: number, child: RuleNode | null) => {
    const children = child ? replaceAt(node.children, i, child) : removeAt(node.children, i);
    onChange(children.length ? { ...node, children } : null);
  };
  return (
    <fieldset className={`rule-group rule-${node.kind}`}>
      <legend>
        <label htmlFor={selectId}>
          Match<span className="sr-only">{of}</span>
        </label>{" "}
        <select id={selectId} value={node.kind} onChange={(e) => onChange({ ...node, kind: e.target.value as "all" | "any" })}>
          <option value="all">all of these (AND)</option>
          <option value="any">any of these (OR)</option>
        </select>
      </legend>
      <ProblemList messages={messages} />
      {node.children.map((child, i) => (
        <NodeEditor
          key={i}
          node={child}
          number={childNumber(number, i)}
          path={join(path, `${node.kind}[${i}]`)}
          onChange={(next) => setChild(i, next)}
          ctx={ctx}
          fieldList={fieldList}
        />
      ))}
      <div className="rule-actions">
        <AddButtons to={to} onAdd={(added) => onChange({ ...node, children: [...node.children, added] })} />
        <button type="button" aria-label={`Wrap ${name} in NOT`} onClick={() => onChange(toggleNot(node))}>
          NOT
        </button>
        {!root || number !== "" ? (
          <button type="button" className="danger" aria-label={`Remove ${name}`} onClick={() => onChange(null)}>
            Remove group
          </button>
        ) : (
          <button type="button" className="danger" aria-label="Clear rule" onClick={() => onChange(null)}>
            Clear rule
          </button>
        )}
      </div>
    </fieldset>
  );
}

/** One leaf: its kind, its settings, Wrap in NOT and Remove. */
function LeafEditor({ node, number, path, onChange, ctx, fieldList }: NodeProps) {
  const name = leafLabel(number);
  const id = (part: string) => `${ctx.idPrefix}-${safeId(name)}-${part}`;
  const messages = leafProblems(ctx.problems, path);
  const kindId = id("kind");
  const known = node.kind !== "unknown";
  let body: ReactNode;
  switch (node.kind) {
    case "condition":
      body = <ConditionLeaf node={node} name={name} id={id} onChange={onChange} ctx={ctx} fieldList={fieldList} />;
      break;
    case "aggregate":
      body = <AggregateLeaf node={node} name={name} number={number} path={path} id={id} onChange={onChange} ctx={ctx} />;
      break;
    case "exists":
      body = <ExistsLeaf node={node} name={name} number={number} path={path} id={id} onChange={onChange} ctx={ctx} />;
      break;
    case "engagement":
      body = <EngagementLeaf node={node} name={name} id={id} onChange={onChange} />;
      break;
    case "in_audience":
      body = <AudienceLeaf value={node.name} name={name} id={id("audience")} onChange={(v) => onChange({ ...node, name: v })} />;
      break;
    case "filter":
      body = <FilterLeaf value={node.name} name={name} id={id("filter")} onChange={(v) => onChange({ ...node, name: v })} />;
      break;
    default:
      body = (
        <Field id={id("yaml")} label={<Named text="As YAML" name={name} />} help="A rule the builder cannot show: edit it as YAML; it is kept as is.">
          {(a11y) => <YamlInput a11y={a11y} value={node.source} onChange={(v) => onChange(ruleToTree(v))} />}
        </Field>
      );
  }
  return (
    <div className="rule-leaf" data-testid="rule-leaf" role="group" aria-label={name}>
      <div className="rule-row">
        <div className="forms-field rule-kind">
          <label htmlFor={kindId}>
            Type<span className="sr-only"> of {name}</span>
          </label>
          <select
            id={kindId}
            value={node.kind}
            onChange={(e) => onChange(newLeaf(e.target.value as LeafKind))}
          >
            {!known ? <option value="unknown">(as YAML)</option> : null}
            {LEAF_KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
        </div>
        <div className="rule-leaf-actions">
          <button type="button" aria-label={`Wrap ${name} in NOT`} onClick={() => onChange(toggleNot(node))}>
            NOT
          </button>
          <button type="button" className="danger" aria-label={`Remove ${name}`} onClick={() => onChange(null)}>
            Remove
          </button>
        </div>
      </div>
      {body}
      <ProblemList messages={messages} />
    </div>
  );
}

/** A visible label whose accessible name also says which leaf it belongs to. */
function Named({ text, name }: { text: string; name: string }) {
  return (
    <>
      {text}
      <span className="sr-only"> of {name}</span>
    </>
  );
}

/** What the settings of a leaf are given: the leaf, its name (`condition 3`), its control ids and how it changes. */
interface LeafProps<N extends RuleNode> {
  node: N;
  name: string;
  id: (part: string) => string;
  onChange: (next: RuleNode) => void;
}

/** A leaf on the rows a link reaches (aggregate, exists): also where it stands, for its `where` rule. */
interface LinkLeafProps<N extends AggregateNode | ExistsNode> extends LeafProps<N> {
  number: string;
  path: string;
  ctx: Ctx;
}

function ConditionLeaf({ node, name, id, onChange, ctx, fieldList }: LeafProps<ConditionNode> & { ctx: Ctx; fieldList: string }) {
  const field = findField(ctx.catalog.fields, ctx.catalog.table, node.field);
  const family = typeFamily(field?.type);
  return (
    <div className="rule-row">
      <Field id={id("field")} label={<Named text="Field" name={name} />} help={field ? field.type : undefined}>
        {(a11y) => (
          <input
            {...a11y}
            type="text"
            list={fieldList}
            autoComplete="off"
            value={node.field}
            placeholder="country, store.region"
            onChange={(e) => onChange({ ...node, field: e.target.value })}
          />
        )}
      </Field>
      <Comparison node={node} name={name} id={id} onChange={onChange} family={family} field={field} variables={ctx.variables} />
    </div>
  );
}

/** The comparison of a condition or an aggregate: its operator, and its value (adapted to a new operator). */
function Comparison({
  node,
  name,
  id,
  onChange,
  family,
  field,
  variables,
}: LeafProps<ConditionNode | AggregateNode> & { family: TypeFamily | null; field: FieldInfo | undefined; variables: string[] }) {
  return (
    <>
      <OperatorPicker id={id("op")} name={name} op={node.op} family={family} onChange={(op) => onChange({ ...node, op, value: adaptValue(node.value, op) })} />
      <ValueEditor
        id={id("value")}
        name={name}
        op={node.op}
        value={node.value}
        family={family}
        field={field}
        variables={variables}
        onChange={(value) => onChange({ ...node, value })}
      />
    </>
  );
}

function OperatorPicker({
  id,
  name,
  op,
  family,
  onChange,
}: {
  id: string;
  name: string;
  op: string;
  family: TypeFamily | null;
  onChange: (op: string) => void;
}) {
  const ops = operatorsFor(family);
  return (
    <Field id={id} label={<Named text="Operator" name={name} />}>
      {(a11y) => <ChoiceSelect a11y={a11y} value={op} choices={ops} label={(o) => OPERATOR_LABELS[o] ?? o} onChange={onChange} />}
    </Field>
  );
}

/** A `<select>` of fixed choices that keeps a current value not among them. */
function ChoiceSelect({
  a11y,
  value,
  choices,
  label = (choice) => choice,
  onChange,
}: {
  a11y: InputA11y;
  value: string;
  choices: string[];
  label?: (choice: string) => string;
  onChange: (v: string) => void;
}) {
  return (
    <select {...a11y} value={value} onChange={(e) => onChange(e.target.value)}>
      {!choices.includes(value) ? <option value={value}>{label(value)}</option> : null}
      {choices.map((c) => (
        <option key={c} value={c}>
          {label(c)}
        </option>
      ))}
    </select>
  );
}

/** Text → the value a rule stores, by the field's type; `${vars.NAME}` is always kept as text. */
function parser(family: TypeFamily | null): (text: string) => unknown {
  return (text: string) => {
    if (family === "string" || family === "date" || family === "timestamp") return text;
    if (family === "boolean") {
      const t = text.trim().toLowerCase();
      if (t === "true") return true;
      if (t === "false") return false;
      return text;
    }
    const v = parseNumberish(text);
    return v === undefined ? "" : v;
  };
}

/** Suggestions for a field's values (GET …/columns/{column}/values), fetched as the user types. */
function useValueSuggestions(field: FieldInfo | undefined): { options: string[]; ask: (prefix: string) => void } {
  const [options, setOptions] = useState<string[]>([]);
  const [prefix, setPrefix] = useState<string | null>(null);
  const settled = useDebounced(prefix, 250);
  const key = field ? `${field.table}.${field.column}` : null;
  useEffect(() => setOptions([]), [key]);
  useEffect(() => {
    if (!field || settled === null || settled.startsWith("${")) return;
    const abort = new AbortController();
    formsApi.values(field.table, field.column, settled, 50, abort.signal).then(
      (r) => setOptions(r.values.map((v) => formatScalar(v.value)).filter((v) => v !== "")),
      (e) => !isAbort(e) && setOptions([]),
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, settled]);
  return { options, ask: (p: string) => setPrefix(p) };
}

function ValueEditor({
  id,
  name,
  op,
  value,
  family,
  field,
  variables,
  onChange,
}: {
  id: string;
  name: string;
  op: string;
  value: unknown;
  family: TypeFamily | null;
  field: FieldInfo | undefined;
  variables: string[];
  onChange: (value: unknown) => void;
}) {
  const shape = valueShape(op);
  const suggestions = useValueSuggestions(field);
  const listId = `${id}-values`;
  const parse = parser(family);
  const vars = variables.map((v) => "${vars." + v + "}");
  const datalist = (
    <datalist id={listId}>
      {[...suggestions.options, ...vars].map((v) => (
        <option key={v} value={v} />
      ))}
    </datalist>
  );
  const input = (a11y: { id: string; "aria-describedby"?: string; "aria-invalid"?: boolean }, v: unknown, set: (v: unknown) => void, placeholder?: string) => (
    <NumberishInput
      a11y={a11y}
      value={v}
      parse={parse}
      list={listId}
      placeholder={placeholder}
      onFocus={() => suggestions.ask("")}
      onChange={(next) => {
        suggestions.ask(formatScalar(next));
        set(next);
      }}
    />
  );
  switch (shape) {
    case "none":
      return null;
    case "duration":
      return (
        <Field id={id} label={<Named text="Duration" name={name} />} help="such as 30 days or 12 hours">
          {(a11y) => (
            <input {...a11y} type="text" value={formatScalar(value)} placeholder="30 days" onChange={(e) => onChange(e.target.value)} />
          )}
        </Field>
      );
    case "pair": {
      const pair = Array.isArray(value) ? value : [value, ""];
      const setAt = (i: number, v: unknown) => onChange(replaceAt(pair, i, v));
      return (
        <>
          {datalist}
          <Field id={`${id}-low`} label={<Named text="From" name={name} />}>
            {(a11y) => input(a11y, pair[0], (v) => setAt(0, v))}
          </Field>
          <Field id={`${id}-high`} label={<Named text="To" name={name} />}>
            {(a11y) => input(a11y, pair[1], (v) => setAt(1, v))}
          </Field>
        </>
      );
    }
    case "list": {
      if (!Array.isArray(value) && typeof value === "string" && value.startsWith("${")) {
        // a variable holding the whole list
        return (
          <Field id={id} label={<Named text="Values" name={name} />}>
            {(a11y) => input(a11y, value, onChange)}
          </Field>
        );
      }
      const items = Array.isArray(value) ? value : [];
      return (
        <fieldset className="rule-values">
          <legend>
            Values<span className="sr-only"> of {name}</span>
          </legend>
          {datalist}
          {items.map((item, i) => (
            <div key={i} className="rule-value-item">
              <label htmlFor={`${id}-${i}`} className="sr-only">
                Value {i + 1} of {name}
              </label>
              {input({ id: `${id}-${i}` }, item, (v) => onChange(replaceAt(items, i, v)))}
              <button type="button" aria-label={`Remove value ${i + 1} of ${name}`} onClick={() => onChange(removeAt(items, i))}>
                ×
              </button>
            </div>
          ))}
          <button type="button" aria-label={`Add value to ${name}`} onClick={() => onChange([...items, ""])}>
            + Value
          </button>
        </fieldset>
      );
    }
    default:
      return (
        <>
          {datalist}
          <Field id={id} label={<Named text="Value" name={name} />}>
            {(a11y) => input(a11y, value, onChange, family === "date" ? "2027-03-01" : undefined)}
          </Field>
        </>
      );
  }
}

/** A name a leaf needs (a link, an audience, a filter): a picker of the known ones, or text while they are unknown. */
function NameInput({ a11y, value, options, onChange }: { a11y: InputA11y; value: string; options: PickerOption[] | undefined; onChange: (v: string) => void }) {
  return options ? (
    <Picker a11y={a11y} value={value || undefined} options={options} onChange={(v) => onChange(v ?? "")} emptyLabel="(choose)" />
  ) : (
    <input {...a11y} type="text" value={value} onChange={(e) => onChange(e.target.value)} />
  );
}

/** A link of the dimension: a select of its links of that cardinality, or text when unknown. */
function LinkPicker({
  id,
  name,
  value,
  links,
  onChange,
}: {
  id: string;
  name: string;
  value: string;
  links: LinkInfo[];
  onChange: (v: string) => void;
}) {
  const many = links.filter((l) => l.cardinality === "many");
  return (
    <Field id={id} label={<Named text="Link" name={name} />} help={many.length ? undefined : "A many-cardinality link of schema.yaml, such as purchases."}>
      {(a11y) => (
        <NameInput a11y={a11y} value={value} options={many.length ? many.map((l) => ({ value: l.name, label: `${l.name} (${l.table})` })) : undefined} onChange={onChange} />
      )}
    </Field>
  );
}

/** The `where` of an exists or aggregate leaf (at `exists.where`, `aggregate.where`): a rule on the linked table. */
function WhereEditor({
  node,
  number,
  path,
  name,
  ctx,
  onChange,
  linkTable,
}: LinkLeafProps<AggregateNode | ExistsNode> & { linkTable: string | null }) {
  const where = node.where;
  const setWhere = (next: RuleNode | undefined) => onChange({ ...node, where: next });
  const catalog = useFieldCatalog(linkTable);
  const listId = `${ctx.idPrefix}-${safeId(number)}-where-fields`;
  const inner: Ctx = { ...ctx, catalog };
  if (!where) {
    return (
      <div className="rule-actions">
        <button type="button" aria-label={`Add where to ${name}`} onClick={() => setWhere(newLeaf("condition"))}>
          + Where
        </button>
      </div>
    );
  }
  return (
    <div className="rule-where" role="group" aria-label={`Where of ${name}`}>
      <div className="rule-not-head">
        <span className="rule-badge">WHERE</span>
        <span className="muted">{linkTable ? `rows of ${linkTable}` : "related rows"}</span>
        <button type="button" aria-label={`Remove where of ${name}`} onClick={() => setWhere(undefined)}>
          Remove where
        </button>
      </div>
      <FieldDatalist id={listId} fields={catalog.fields} />
      <RuleRoot
        node={where}
        onChange={(n) => setWhere(n ?? undefined)}
        prefix={`${number} where`}
        path={join(path, `${node.kind}.where`)}
        ctx={inner}
        fieldList={listId}
      />
    </div>
  );
}

function linkTableOf(links: LinkInfo[], link: string): string | null {
  return links.find((l) => l.name === link)?.table ?? null;
}

function AggregateLeaf(props: LinkLeafProps<AggregateNode>) {
  const { node, name, id, onChange, ctx } = props;
  const linkTable = linkTableOf(ctx.catalog.links, node.link);
  const linked = useFieldCatalog(linkTable);
  const columns = linked.fields.filter((f) => !f.name.includes("."));
  const column = columns.find((f) => f.name === node.field);
  const family: TypeFamily | null =
    node.fn === "count" || node.fn === "count_distinct" || node.fn === "sum" || node.fn === "avg" ? "numeric" : typeFamily(column?.type);
  const fieldsId = id("agg-fields");
  return (
    <>
      <div className="rule-row">
        <LinkPicker id={id("link")} name={name} value={node.link} links={ctx.catalog.links} onChange={(link) => onChange({ ...node, link })} />
        <Field id={id("fn")} label={<Named text="Function" name={name} />}>
          {(a11y) => <ChoiceSelect a11y={a11y} value={node.fn} choices={AGGREGATE_FNS} onChange={(fn) => onChange({ ...node, fn })} />}
        </Field>
        <Field id={id("agg-field")} label={<Named text="Of field" name={name} />} help={node.fn === "count" ? "optional for count" : undefined}>
          {(a11y) => (
            <>
              <input
                {...a11y}
                type="text"
                list={fieldsId}
                autoComplete="off"
                value={node.field ?? ""}
                onChange={(e) => onChange({ ...node, field: e.target.value === "" ? undefined : e.target.value })}
              />
              <FieldDatalist id={fieldsId} fields={columns} />
            </>
          )}
        </Field>
      </div>
      <div className="rule-row">
        <Comparison
          node={node}
          name={name}
          id={id}
          onChange={onChange}
          family={family}
          field={node.fn === "min" || node.fn === "max" ? column : undefined}
          variables={ctx.variables}
        />
      </div>
      <WhereEditor {...props} linkTable={linkTable} />
    </>
  );
}

function ExistsLeaf(props: LinkLeafProps<ExistsNode>) {
  const { node, name, id, onChange, ctx } = props;
  const linkTable = linkTableOf(ctx.catalog.links, node.link);
  return (
    <>
      <div className="rule-row">
        <LinkPicker id={id("link")} name={name} value={node.link} links={ctx.catalog.links} onChange={(link) => onChange({ ...node, link })} />
      </div>
      <WhereEditor {...props} linkTable={linkTable} />
    </>
  );
}

function EngagementLeaf({ node, name, id, onChange }: LeafProps<EngagementNode>) {
  const text = (key: "campaign" | "activity" | "within", label: string, help?: string, placeholder?: string) => (
    <Field id={id(key)} label={<Named text={label} name={name} />} help={help}>
      {(a11y) => (
        <input
          {...a11y}
          type="text"
          value={node[key] ?? ""}
          placeholder={placeholder}
          onChange={(e) => onChange({ ...node, [key]: e.target.value === "" ? undefined : e.target.value })}
        />
      )}
    </Field>
  );
  return (
    <div className="rule-row">
      <Field id={id("event")} label={<Named text="Event" name={name} />}>
        {(a11y) => (
          <ChoiceSelect
            a11y={a11y}
            value={node.event}
            choices={ENGAGEMENT_EVENTS}
            onChange={(event) => onChange({ ...node, event, includeMachine: event === "opened" || event === "clicked" ? node.includeMachine : undefined })}
          />
        )}
      </Field>
      {text("campaign", "Campaign", "empty: any campaign")}
      {text("activity", "Activity", "empty: any activity")}
      {text("within", "Within", "empty: ever", "7 days")}
      {node.event === "opened" || node.event === "clicked" || node.includeMachine !== undefined ? (
        <Field id={id("machine")} label={<Named text="Include machine opens and clicks" name={name} />} inline>
          {(a11y) => (
            <input
              {...a11y}
              type="checkbox"
              checked={node.includeMachine ?? false}
              onChange={(e) => onChange({ ...node, includeMachine: e.target.checked ? true : undefined })}
            />
          )}
        </Field>
      ) : null}
    </div>
  );
}

function AudienceLeaf({ value, name, id, onChange }: { value: string; name: string; id: string; onChange: (v: string) => void }) {
  const audiences = useAudiences();
  const options = audiences.data?.audiences.map((a) => ({ value: a.name, label: a.rows !== undefined ? `${a.name} (${a.rows})` : a.name }));
  return (
    <Field id={id} label={<Named text="Audience" name={name} />} help={audiences.error ? `Audiences unavailable: ${audiences.error}` : undefined}>
      {(a11y) => <NameInput a11y={a11y} value={value} options={options} onChange={onChange} />}
    </Field>
  );
}

function FilterLeaf({ value, name, id, onChange }: { value: string; name: string; id: string; onChange: (v: string) => void }) {
  const filters = useFilters();
  const list = filters.data?.filters;
  const chosen = list?.find((f) => f.name === value);
  const options = list?.map((f) => ({ value: f.name, label: f.label ? `${f.name}: ${f.label}` : f.name }));
  const help = filters.error
    ? `Filters unavailable: ${filters.error}`
    : chosen?.error
      ? `This filter cannot be used: ${chosen.error}`
      : (chosen?.description ?? undefined);
  return (
    <Field id={id} label={<Named text="Filter" name={name} />} help={help}>
      {(a11y) => <NameInput a11y={a11y} value={value} options={options} onChange={onChange} />}
    </Field>
  );
}

/** Calculate (the count) and SQL (the code view) of the rule as the document now stands. */
function RuleTools({ document, activity, rule }: { document: CampaignDocument; activity: string; rule: unknown }) {
  const [count, setCount] = useState<{ busy: boolean; value: number | null; whole: boolean; error: string | null; stale: boolean }>({
    busy: false,
    value: null,
    whole: false,
    error: null,
    stale: false,
  });
  const [showSql, setShowSql] = useState(false);
  const [sql, setSql] = useState<{ text: string | null; error: string | null; busy: boolean }>({ text: null, error: null, busy: false });
  const docRef = useRef(document);
  docRef.current = document;
  const ruleKey = JSON.stringify(rule ?? null);
  const lastRule = useRef(ruleKey);
  useEffect(() => {
    if (lastRule.current !== ruleKey) {
      lastRule.current = ruleKey;
      setCount((c) => (c.value !== null || c.error ? { ...c, stale: true } : c));
    }
  }, [ruleKey]);
  const settledRule = useDebounced(ruleKey, 500);
  useEffect(() => {
    if (!showSql) return;
    let live = true;
    setSql((s) => ({ ...s, busy: true }));
    formsApi.sql(docRef.current, activity).then(
      (r) => live && setSql({ text: r.sql, error: null, busy: false }),
      (e) => live && setSql({ text: null, error: errorMessage(e), busy: false }),
    );
    return () => {
      live = false;
    };
  }, [showSql, settledRule, activity]);
  const calculate = () => {
    setCount((c) => ({ ...c, busy: true, error: null }));
    formsApi.count(document, activity).then(
      (r) => setCount({ busy: false, value: r.count, whole: r.over_whole_dimension, error: null, stale: false }),
      (e) => setCount({ busy: false, value: null, whole: false, error: errorMessage(e), stale: false }),
    );
  };
  const sqlId = useId();
  return (
    <div className="rule-tools">
      <div className="rule-actions">
        <button type="button" className="primary" onClick={calculate} disabled={count.busy}>
          Calculate
        </button>
        <output data-testid="rule-count" aria-live="polite" className={count.stale ? "muted" : undefined}>
          {count.busy
            ? "Counting…"
            : count.value !== null
              ? `${count.value.toLocaleString()} profile${count.value === 1 ? "" : "s"}${count.stale ? " (before the last change)" : ""}`
              : ""}
        </output>
        <button type="button" aria-pressed={showSql} aria-controls={sqlId} onClick={() => setShowSql((s) => !s)}>
          SQL
        </button>
      </div>
      {count.whole && count.value !== null ? (
        <p className="hint">Counted over the whole dimension: the activities upstream are not applied.</p>
      ) : null}
      {count.error ? (
        <p className="error" role="alert">
          {count.error}
        </p>
      ) : null}
      <div id={sqlId} hidden={!showSql}>
        {showSql ? (
          sql.error ? (
            <p className="error" role="alert">
              {sql.error}
            </p>
          ) : (
            <pre className="rule-sql" aria-label="SQL of the rule" aria-busy={sql.busy}>
              {sql.text ?? "Loading…"}
            </pre>
          )
        ) : null}
      </div>
    </div>
  );
}
