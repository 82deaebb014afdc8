// The side panel of one activity: id, label, description, enabled, then the type's
// own settings generated from the schema; rules by the rule builder, channel content
// by the content editor. `inputs` belongs to the editor and is never touched here.

import { useEffect, useState } from "react";
import type { Activity } from "../canvas/convert";
import type { ActivityPanelProps } from "../panels";
import { useAudiences, useCampaignSchema, useColumns, useTables } from "./api";
import { useFieldCatalog } from "./catalog";
import { CHANNELS, CONTENT_KEYS, ContentEditor, ContentTextField, isContentText } from "./ContentEditor";
import { Field, FieldDatalist, Picker, ProblemSummary } from "./fields";
import { activityRelative, formatPath, problemsAt, problemsUnder, setIn, type PathProblem } from "./paths";
import { RuleBuilder, type RuleBuilderProps } from "./RuleBuilder";
import { ObjectFields, PropertyField, itemName, type FormContext, type SpecialField } from "./SchemaForm";
import { activitySchema, constraintProblem, humanize, isObject, isRuleSchema, singular, type JsonSchema } from "./schema";

/** Settings that name columns of the input: offered the dimension's fields. */
const COLUMN_KEYS = new Set(["keys", "by", "field", "attributes", "columns", "fields"]);
/** The content settings a variant or a language may hold, for every channel. */
const VARIANT_CONTENT = new Set(["subject", "html", "text", "body", "title"]);

/** Settings every activity has, shown first; `type` and `inputs` are not edited here. */
const BASE = ["id", "type", "inputs", "label", "description", "enabled"];

const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, "_");

export function ActivityPanel({ campaign, document, activity, onChange, problems }: ActivityPanelProps) {
  const root = useCampaignSchema();
  const schema = activitySchema(root, activity.type);
  const relative: PathProblem[] = problems.map((p) => ({ path: activityRelative(p.path, activity.id), message: p.message }));
  const idPrefix = `act-${safe(activity.id)}`;
  const set = (key: string, v: unknown) => onChange(setIn(activity, [key], v) as Activity);
  const channel = CHANNELS.has(activity.type);
  const content = channel ? CONTENT_KEYS[activity.type] : [];

  const ctx: FormContext = {
    root,
    idPrefix,
    problems: relative,
    fieldList: { id: `${idPrefix}--column-names`, keys: COLUMN_KEYS },
    renderSpecial: (field: SpecialField) => {
      // content a channel does not use (an email variant's `body`) is left out while unset
      const last = field.path[field.path.length - 1];
      if (channel && field.path.length === 3 && (field.path[0] === "variants" || field.path[0] === "languages")) {
        if (typeof last === "string" && VARIANT_CONTENT.has(last) && !content.includes(last) && field.value === undefined) return null;
      }
      if (isRuleSchema(field.schema, root)) {
        return <ActivityRule field={field} activity={activity} document={document} problems={relative} idPrefix={idPrefix} />;
      }
      if (isContentText(field.schema, root)) return <ContentTextField field={field} />;
      if (field.path.length === 1 && field.name === "target") return <TableField field={field} />;
      if (field.path.length === 1 && field.name === "audience") return <AudienceField field={field} />;
      return undefined;
    },
  };
  const baseSchema: JsonSchema = schema ?? { type: "object", properties: {} };
  const prop = (key: string): JsonSchema => baseSchema.properties?.[key] ?? { anyOf: [{ type: "string" }, { type: "null" }] };

  return (
    <section className="forms-panel" aria-label={`Activity ${activity.id}`}>
      <ProblemSummary problems={relative} />
      <IdField
        id={`${idPrefix}-id`}
        value={activity.id}
        schema={prop("id")}
        root={root}
        problems={problemsAt(relative, ["id"])}
        onCommit={(id) => onChange(setIn(activity, ["id"], id) as Activity)}
      />
      <p className="hint">
        Type: <code>{activity.type}</code>
        {schema ? null : <span className="warning"> (an activity type this version does not know: its settings are shown as YAML)</span>}
      </p>
      <PropertyField ctx={ctx} name="label" schema={prop("label")} required={false} value={activity.label} onChange={(v) => set("label", v)} path={["label"]} />
      <PropertyField
        ctx={ctx}
        name="description"
        schema={prop("description")}
        required={false}
        value={activity.description}
        onChange={(v) => set("description", v)}
        path={["description"]}
      />
      <PropertyField
        ctx={ctx}
        name="enabled"
        schema={baseSchema.properties?.enabled ?? { type: "boolean", default: true }}
        required={false}
        value={activity.enabled}
        onChange={(v) => set("enabled", v)}
        path={["enabled"]}
      />
      {channel && schema ? (
        <ContentEditor ctx={ctx} schema={schema} activity={activity} onChange={onChange} campaign={campaign} document={document} />
      ) : null}
      <ColumnList id={`${idPrefix}--column-names`} table={typeof activity.target === "string" && activity.target ? activity.target : typeof document.target === "string" ? document.target : null} />
      <section className="forms-section" aria-label="Settings">
        <h3>Settings</h3>
        <ObjectFields
          ctx={ctx}
          schema={baseSchema}
          value={activity}
          onChange={(next) => onChange(next as Activity)}
          path={[]}
          exclude={[...BASE, ...content]}
        />
      </section>
    </section>
  );
}

/** The id, committed when the field is left (or Enter): the editor then renames every reference. */
function IdField({
  id,
  value,
  schema,
  root,
  problems,
  onCommit,
}: {
  id: string;
  value: string;
  schema: JsonSchema;
  root: JsonSchema;
  problems: string[];
  onCommit: (id: string) => void;
}) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const commit = () => {
    const next = text.trim();
    if (next && next !== value) onCommit(next);
    else setText(value);
  };
  return (
    <Field id={id} label="ID" required help="Lowercase letters, digits and _; renaming updates the transitions." problems={problems} local={constraintProblem(schema, text, root)}>
      {(a11y) => (
        <input
          {...a11y}
          type="text"
          value={text}
          onChange={(e) => setText(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === "Enter") commit();
            if (e.key === "Escape") setText(value);
          }}
        />
      )}
    </Field>
  );
}

/** A rule setting of an activity: its builder, named, counted and scoped after its place. */
function ActivityRule({
  field,
  activity,
  document,
  problems,
  idPrefix,
}: {
  field: SpecialField;
  activity: Activity;
  document: ActivityPanelProps["document"];
  problems: PathProblem[];
  idPrefix: string;
}) {
  const tables = useTables();
  const target =
    (typeof activity.target === "string" && activity.target) ||
    (typeof document.target === "string" && document.target) ||
    tables.data?.target ||
    null;
  const { path } = field;
  const at = formatPath(path);
  const ruleProblems = problemsUnder(problems, at).map((p) => ({
    path: p.path === at ? "" : p.path.slice(at.length).replace(/^\./, ""),
    message: p.message,
  }));
  let label = field.label;
  let count: { document: typeof document; activity: string } | null = null;
  let linkOf: string | null = null;
  if (path.length === 1 && path[0] === "rule") {
    label = "Rule";
    count = { document, activity: activity.id };
  } else if (path.length === 3 && path[0] === "subsets" && typeof path[1] === "number" && path[2] === "rule") {
    const subset = Array.isArray(activity.subsets) ? activity.subsets[path[1]] : undefined;
    const sid = isObject(subset) && typeof subset.id === "string" ? subset.id : "";
    label = `Rule of subset ${sid || path[1] + 1}`;
    count = sid ? { document, activity: `${activity.id}.${sid}` } : null;
  } else if (path.length === 3 && typeof path[0] === "string" && typeof path[1] === "number" && path[2] === "where") {
    const list = activity[path[0]];
    const item = Array.isArray(list) ? list[path[1]] : undefined;
    label = `Where of ${singular(humanize(path[0])).toLowerCase()} ${itemName(item, path[1])}`;
    linkOf = isObject(item) && typeof item.link === "string" ? item.link : null;
  }
  const rule = {
    label,
    value: field.value,
    onChange: field.onChange,
    idPrefix: `${idPrefix}-${safe(at)}`,
    problems: ruleProblems,
    variables: isObject(document.variables) ? Object.keys(document.variables) : [],
  };
  return (
    <div className="forms-field forms-rule">
      {linkOf !== null ? <LinkedRule {...rule} target={target} link={linkOf} /> : <RuleBuilder {...rule} table={target} count={count} />}
    </div>
  );
}

/** A rule on the rows a link reaches (enrich's aggregates and collect): scoped to that table. */
function LinkedRule({ target, link, ...rule }: Omit<RuleBuilderProps, "table" | "count"> & { target: string | null; link: string }) {
  const columns = useColumns(target);
  const table = columns.data?.links.find((l) => l.name === link)?.table ?? null;
  return <RuleBuilder {...rule} table={table} count={null} />;
}

/** What the `Field` of a field the panel renders itself takes from it. */
const fieldProps = ({ id, label, problems, required }: SpecialField) => ({ id, label, problems, required });

/** An activity's `target`: a table of the data plane (text when the list is unavailable). */
function TableField({ field }: { field: SpecialField }) {
  const tables = useTables();
  const value = typeof field.value === "string" ? field.value : undefined;
  return (
    <Field
      {...fieldProps(field)}
      help={tables.error ? `Tables unavailable: ${tables.error}` : "The dimension this activity reads; empty: the campaign's target."}
    >
      {(a11y) =>
        tables.data ? (
          <Picker
            a11y={a11y}
            value={value}
            options={tables.data.tables.map((t) => ({ value: t.name }))}
            onChange={(v) => field.onChange(v === undefined && field.required ? "" : v)}
            emptyLabel={field.required ? "(choose)" : "(the campaign's target)"}
          />
        ) : (
          <input
            {...a11y}
            type="text"
            value={value ?? ""}
            onChange={(e) => field.onChange(e.target.value === "" && !field.required ? undefined : e.target.value)}
          />
        )
      }
    </Field>
  );
}

/** A saved audience's name: the saved ones are offered, a new name may be typed (save_audience). */
function AudienceField({ field }: { field: SpecialField }) {
  const audiences = useAudiences();
  const listId = `${field.id}-audiences`;
  return (
    <Field
      {...fieldProps(field)}
      help={audiences.error ? `Audiences unavailable: ${audiences.error}` : "A saved audience's name."}
      local={constraintProblem(field.schema, field.value, { })}
    >
      {(a11y) => (
        <>
          <input
            {...a11y}
            type="text"
            list={listId}
            autoComplete="off"
            value={typeof field.value === "string" ? field.value : ""}
            onChange={(e) => field.onChange(e.target.value)}
          />
          <datalist id={listId}>
            {(audiences.data?.audiences ?? []).map((a) => (
              <option key={a.name} value={a.name} />
            ))}
          </datalist>
        </>
      )}
    </Field>
  );
}

/** The fields of the dimension, offered to the settings that name a column. */
function ColumnList({ id, table }: { id: string; table: string | null }) {
  const tables = useTables();
  const catalog = useFieldCatalog(table ?? tables.data?.target ?? null);
  return <FieldDatalist id={id} fields={catalog.fields} />;
}
