// A form generated from the campaign's JSON Schema. It edits one object of the
// document and calls back with a whole new value, changing only what the user
// changed: unknown keys and key order stay, an emptied optional field is removed,
// defaults are never written.

import type { ReactNode } from "react";
import { Field, ItemButtons, ListEditor, NumberishInput, Picker, ProblemList, YamlInput } from "./fields";
import {
  controlId,
  formatScalar,
  getIn,
  problemsAt,
  renameKey,
  replaceAt,
  setIn,
  type Path,
  type PathProblem,
} from "./paths";
import {
  choices,
  constraintHint,
  constraintProblem,
  initialValue,
  isObject,
  kindOf,
  labelFor,
  properties,
  resolve,
  singular,
  unwrapOptional,
  variantOf,
  variants,
  type JsonSchema,
} from "./schema";
import { helpFor } from "./help";

export interface SpecialField {
  /** the property name (or list index) */
  name: string | number;
  label: string;
  path: Path;
  /** the schema, optional wrapper removed */
  schema: JsonSchema;
  required: boolean;
  value: unknown;
  onChange: (next: unknown) => void;
  id: string;
  problems: string[];
}

export interface FormContext {
  root: JsonSchema;
  /** prefix of every control id (unique per panel) */
  idPrefix: string;
  /** problems with paths relative to the edited object (`subsets[1].limit.percent`) */
  problems: PathProblem[];
  /** renders a field itself (rules, content) or returns undefined to let the form do it */
  renderSpecial?: (field: SpecialField) => ReactNode | undefined;
  /** the item being edited (`subset sample`), so that buttons say which one they act on */
  scope?: string;
  /** a `<datalist>` of column names offered to text fields that name a column (`keys`, `by`…) */
  fieldList?: { id: string; keys: Set<string> };
}

/** The datalist a text field named `key` gets, if it names a column. */
const listFor = (ctx: FormContext, key: string | number) =>
  ctx.fieldList && typeof key === "string" && ctx.fieldList.keys.has(key) ? ctx.fieldList.id : undefined;

const toScope = (ctx: FormContext) => (ctx.scope ? ` to ${ctx.scope}` : "");
const ofScope = (ctx: FormContext) => (ctx.scope ? ` of ${ctx.scope}` : "");

const MULTILINE = new Set(["description", "message", "html", "text", "body"]);

/** The fields of an object schema, in schema order, then the keys the schema does not know. */
export function ObjectFields({
  ctx,
  schema,
  value,
  onChange,
  path,
  exclude = [],
}: {
  ctx: FormContext;
  schema: JsonSchema;
  value: unknown;
  onChange: (next: unknown) => void;
  path: Path;
  exclude?: string[];
}) {
  const s = resolve(schema, ctx.root);
  const obj = isObject(value) ? value : {};
  const props = properties(s, ctx.root).filter(([k]) => !exclude.includes(k));
  const known = new Set(Object.keys(s.properties ?? {}));
  const unknown = Object.keys(obj).filter((k) => !known.has(k) && !exclude.includes(k));
  return (
    <>
      {props.map(([key, propSchema]) => (
        <PropertyField
          key={key}
          ctx={ctx}
          name={key}
          schema={propSchema}
          required={!!s.required?.includes(key)}
          value={obj[key]}
          onChange={(v) => onChange(setIn(obj, [key], v))}
          path={[...path, key]}
        />
      ))}
      {unknown.map((key) => (
        <Field
          key={key}
          id={controlId(ctx.idPrefix, [...path, key])}
          label={key}
          help="A setting this form does not know (kept as is): edit it as YAML."
          problems={problemsAt(ctx.problems, [...path, key])}
        >
          {(a11y) => (
            <div className="forms-row">
              <YamlInput value={obj[key]} onChange={(v) => onChange(setIn(obj, [key], v))} a11y={a11y} />
              <button type="button" className="danger" aria-label={`Remove ${key}${ofScope(ctx)}`} onClick={() => onChange(setIn(obj, [key], undefined))}>
                Remove
              </button>
            </div>
          )}
        </Field>
      ))}
    </>
  );
}

/** What the control of a value is given: where it stands, its schema, its value and how it changes. */
interface ValueProps {
  ctx: FormContext;
  /** the property name (or list index) */
  name: string | number;
  schema: JsonSchema;
  required: boolean;
  value: unknown;
  onChange: (next: unknown) => void;
  path: Path;
  label: string;
}

/** A control of several fields (a list of objects, a map, a union), with the help and problems of its value. */
interface CompoundProps extends ValueProps {
  help?: string;
  problems: string[];
}

/** One property of an object: its label, control, help and problems. */
export function PropertyField(props: Omit<ValueProps, "label"> & { label?: string }) {
  const { ctx, name, schema, required, value, onChange, path, label } = props;
  const { schema: inner } = unwrapOptional(schema, ctx.root);
  const text = label ?? labelFor(String(name), schema);
  const id = controlId(ctx.idPrefix, path);
  const problems = problemsAt(ctx.problems, path);
  const special = ctx.renderSpecial?.({ name, label: text, path, schema: inner, required, value, onChange, id, problems });
  if (special !== undefined) return <>{special}</>;
  return <ValueField {...props} label={text} />;
}

/** The control for a value of any schema. */
export function ValueField({ ctx, name, schema, required, value, onChange, path, label }: ValueProps) {
  const { root } = ctx;
  const { schema: s, nullable } = unwrapOptional(schema, root);
  const outer = resolve(schema, root);
  const dflt = outer.default ?? s.default;
  const kind = kindOf(s, root);
  const id = controlId(ctx.idPrefix, path);
  const problems = problemsAt(ctx.problems, path);
  const help = [helpFor(String(name), outer.description ?? s.description), constraintHint(s, root)].filter(Boolean).join(" · ") || undefined;
  const local = constraintProblem(s, value, root);
  const fieldProps = { id, label, help, problems, local, required };
  const compound = { ctx, name, schema: s, value, onChange, path, label, required, help };
  const hasDefault = dflt !== undefined && dflt !== null;

  switch (kind) {
    case "enum": {
      const list = choices(s, root) ?? [];
      const index = list.findIndex((c) => c === value);
      const emptyLabel = hasDefault ? `(default: ${formatScalar(dflt)})` : required ? "(choose)" : "(not set)";
      return (
        <Field {...fieldProps}>
          {(a11y) => (
            <select
              {...a11y}
              value={value === undefined ? "" : index >= 0 ? String(index) : "unknown"}
              onChange={(e) => {
                const v = e.target.value;
                onChange(v === "" ? undefined : v === "unknown" ? value : list[Number(v)]);
              }}
            >
              {value === undefined || !required || hasDefault ? <option value="">{emptyLabel}</option> : null}
              {value !== undefined && index < 0 ? <option value="unknown">{formatScalar(value)} (not allowed)</option> : null}
              {list.map((c, i) => (
                <option key={i} value={String(i)}>
                  {formatScalar(c)}
                </option>
              ))}
            </select>
          )}
        </Field>
      );
    }
    case "boolean": {
      if (nullable && !hasDefault) {
        // three states: not set (the server decides), yes, no
        return (
          <Field {...fieldProps}>
            {(a11y) => (
              <select
                {...a11y}
                value={value === true ? "true" : value === false ? "false" : ""}
                onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value === "true")}
              >
                <option value="">(not set)</option>
                <option value="true">yes</option>
                <option value="false">no</option>
              </select>
            )}
          </Field>
        );
      }
      const base = typeof dflt === "boolean" ? dflt : false;
      const checked = typeof value === "boolean" ? value : base;
      return (
        <Field {...fieldProps} inline>
          {(a11y) => (
            <input
              {...a11y}
              type="checkbox"
              checked={checked}
              onChange={(e) => onChange(!required && e.target.checked === base ? undefined : e.target.checked)}
            />
          )}
        </Field>
      );
    }
    case "number":
    case "integer":
    case "scalar":
      return (
        <Field {...fieldProps}>
          {(a11y) => (
            <NumberishInput
              a11y={a11y}
              value={value}
              integer={kind === "integer"}
              empty={required ? "" : undefined}
              placeholder={hasDefault ? `default: ${formatScalar(dflt)}` : undefined}
              onChange={onChange}
            />
          )}
        </Field>
      );
    case "string": {
      const multiline = MULTILINE.has(String(name));
      const text = typeof value === "string" ? value : formatScalar(value);
      const set = (t: string) => onChange(t === "" && !required ? undefined : t);
      return (
        <Field {...fieldProps}>
          {(a11y) =>
            multiline ? (
              <textarea {...a11y} rows={3} value={text} onChange={(e) => set(e.target.value)} />
            ) : (
              <input
                {...a11y}
                type="text"
                value={text}
                list={listFor(ctx, name)}
                autoComplete={listFor(ctx, name) ? "off" : undefined}
                placeholder={hasDefault ? `default: ${formatScalar(dflt)}` : undefined}
                onChange={(e) => set(e.target.value)}
              />
            )
          }
        </Field>
      );
    }
    case "list": {
      const items = Array.isArray(value) ? value : [];
      const itemSchema = resolve(s.items, root);
      const itemKind = kindOf(itemSchema, root);
      return (
        <fieldset className="forms-fieldset" aria-describedby={problems.length || local ? `${id}-problems` : undefined}>
          <legend>
            {label}
            {required ? <span aria-hidden="true"> *</span> : null}
          </legend>
          {help ? <p className="hint">{help}</p> : null}
          <ListEditor
            idPrefix={id}
            name={ctx.scope ? `${label} of ${ctx.scope}` : label}
            items={items}
            onChange={(next) => onChange(next.length === 0 && !required ? undefined : next)}
            newItem={itemKind === "string" ? "" : itemKind === "enum" ? (choices(itemSchema, root) ?? [""])[0] : ""}
            renderItem={(item, set, a11y) =>
              itemKind === "enum" ? (
                <Picker
                  a11y={a11y}
                  value={formatScalar(item)}
                  options={(choices(itemSchema, root) ?? []).map((c) => ({ value: formatScalar(c) }))}
                  onChange={(v) => set(v ?? "")}
                  emptyLabel={null}
                />
              ) : itemKind === "string" ? (
                <input {...a11y} type="text" list={listFor(ctx, name)} autoComplete="off" value={formatScalar(item)} onChange={(e) => set(e.target.value)} />
              ) : (
                <NumberishInput a11y={a11y} value={item} integer={itemKind === "integer"} empty="" onChange={set} />
              )
            }
          />
          <ProblemList id={`${id}-problems`} messages={local && !problems.includes(local) ? [...problems, local] : problems} />
        </fieldset>
      );
    }
    case "objects":
      return <ObjectList {...compound} problems={local && !problems.includes(local) ? [...problems, local] : problems} />;
    case "map":
      return <MapEditor {...compound} problems={problems} />;
    case "object": {
      const present = value !== undefined;
      if (!present && !required) {
        return (
          <div className="forms-field">
            <button type="button" aria-label={`Add ${label.toLowerCase()}${toScope(ctx)}`} onClick={() => onChange(initialValue(s, root) ?? {})}>
              Add {label.toLowerCase()}
            </button>
            {help ? <p className="hint">{help}</p> : null}
            <ProblemList id={`${id}-problems`} messages={problems} />
          </div>
        );
      }
      return (
        <fieldset className="forms-fieldset" id={id}>
          <legend>{label}</legend>
          {help ? <p className="hint">{help}</p> : null}
          <ProblemList id={`${id}-problems`} messages={problems} />
          {isObject(value) || value === undefined ? (
            <ObjectFields ctx={ctx} schema={s} value={value ?? {}} onChange={onChange} path={path} />
          ) : (
            <Field id={`${id}-yaml`} label={`${label} (as YAML)`} help="Not a mapping: edit it as YAML.">
              {(a11y) => <YamlInput value={value} onChange={onChange} a11y={a11y} />}
            </Field>
          )}
          {!required ? (
            <button type="button" className="danger" aria-label={`Remove ${label.toLowerCase()}${ofScope(ctx)}`} onClick={() => onChange(undefined)}>
              Remove {label.toLowerCase()}
            </button>
          ) : null}
        </fieldset>
      );
    }
    case "union":
      return <UnionField {...compound} problems={problems} />;
    case "rule":
    case "any":
    default:
      return (
        <Field {...fieldProps} help={help ?? "As YAML (or JSON)."}>
          {(a11y) => <YamlInput value={value} onChange={onChange} a11y={a11y} />}
        </Field>
      );
  }
}

/** The name an item of a list of objects goes by: its id or name, else its position. */
export function itemName(item: unknown, index: number): string {
  if (isObject(item)) {
    for (const k of ["id", "name"]) if (typeof item[k] === "string" && item[k]) return item[k] as string;
  }
  return String(index + 1);
}

/** A fresh id for a new item (`subset_3`), unused in the list. */
function freshId(base: string, items: unknown[]): string {
  const used = new Set(items.map((x) => (isObject(x) ? x.id : undefined)));
  for (let n = items.length + 1; ; n++) {
    const id = `${base}_${n}`;
    if (!used.has(id)) return id;
  }
}

/** Repeatable fieldsets for a list of objects: Add, Remove, Move up, Move down. */
function ObjectList({ ctx, schema, value, onChange, path, label, required, help, problems }: CompoundProps) {
  const { root } = ctx;
  const items = Array.isArray(value) ? value : [];
  const itemSchema = schema.items ?? {};
  const resolved = resolve(itemSchema, root);
  const one = singular(label).toLowerCase();
  const id = controlId(ctx.idPrefix, path);
  const set = (next: unknown[]) => onChange(next.length === 0 && !required ? undefined : next);
  const add = () => {
    let item = initialValue(itemSchema, root);
    if (isObject(item) && item.id === "" && resolved.properties?.id) item = { ...item, id: freshId(one.replace(/\W+/g, "_"), items) };
    set([...items, item ?? {}]);
  };
  return (
    <fieldset className="forms-fieldset" id={id}>
      <legend>
        {label}
        {required ? <span aria-hidden="true"> *</span> : null}
      </legend>
      {help ? <p className="hint">{help}</p> : null}
      <ProblemList id={`${id}-problems`} messages={problems} />
      {items.map((item, i) => {
        const n = itemName(item, i);
        const itemPath = [...path, i];
        return (
          <fieldset key={i} className="forms-item">
            <legend>
              {singular(label)} {n}
            </legend>
            <div className="forms-item-actions">
              <ItemButtons items={items} index={i} what={`${one} ${n}`} after={ofScope(ctx)} onChange={set} />
            </div>
            <ProblemList id={`${id}-${i}-problems`} messages={problemsAt(ctx.problems, itemPath)} />
            {kindOf(resolved, root) === "object" && (isObject(item) || item === undefined) ? (
              <ObjectFields
                ctx={{ ...ctx, scope: `${one} ${n}` }}
                schema={resolved}
                value={item}
                onChange={(v) => set(replaceAt(items, i, v))}
                path={itemPath}
              />
            ) : (
              <ValueField
                ctx={ctx}
                name={i}
                schema={itemSchema}
                required
                value={item}
                onChange={(v) => set(replaceAt(items, i, v))}
                path={itemPath}
                label={`${singular(label)} ${n}`}
              />
            )}
          </fieldset>
        );
      })}
      <button type="button" aria-label={`Add ${one}${toScope(ctx)}`} onClick={add}>
        Add {one}
      </button>
    </fieldset>
  );
}

/** `additionalProperties` maps: one row per entry, name + value, in the document's order. */
function MapEditor({ ctx, schema, value, onChange, path, label, required, help, problems }: CompoundProps) {
  const { root } = ctx;
  const obj = isObject(value) ? value : {};
  const valueSchema = typeof schema.additionalProperties === "object" ? schema.additionalProperties : {};
  const id = controlId(ctx.idPrefix, path);
  const one = singular(label).toLowerCase();
  const set = (next: Record<string, unknown>) => onChange(Object.keys(next).length === 0 && !required ? undefined : next);
  const add = () => {
    let n = Object.keys(obj).length + 1;
    while (`new_${n}` in obj) n++;
    set({ ...obj, [`new_${n}`]: initialValue(valueSchema, root) ?? "" });
  };
  const valueKind = kindOf(unwrapOptional(valueSchema, root).schema, root);
  return (
    <fieldset className="forms-fieldset" id={id}>
      <legend>{label}</legend>
      {help ? <p className="hint">{help}</p> : null}
      <ProblemList id={`${id}-problems`} messages={problems} />
      {Object.entries(obj).map(([key, v], i) => {
        const nameId = `${id}-name-${i}`;
        const entryPath = [...path, key];
        const body = (
          <PropertyField
            ctx={ctx}
            name={key}
            schema={valueSchema}
            required
            value={v}
            onChange={(nv) => set(setIn(obj, [key], nv === undefined ? "" : nv))}
            path={entryPath}
            label={`Value of ${key}`}
          />
        );
        return (
          <div key={i} className={valueKind === "object" ? "forms-item" : "forms-map-row"}>
            <div className="forms-field">
              <label htmlFor={nameId}>Name of {one} {i + 1}</label>
              <RenameInput id={nameId} name={key} taken={obj} onRename={(to) => set(renameKey(obj, key, to))} />
            </div>
            {body}
            <button type="button" className="danger" aria-label={`Remove ${one} ${key}${ofScope(ctx)}`} onClick={() => set(setIn(obj, [key], undefined))}>
              Remove
            </button>
          </div>
        );
      })}
      <button type="button" aria-label={`Add ${one}${toScope(ctx)}`} onClick={add}>
        Add {one}
      </button>
    </fieldset>
  );
}

/** A key's name, renamed when the text is a new, unused, non-empty name. */
export function RenameInput({
  id,
  name,
  taken,
  onRename,
}: {
  id: string;
  name: string;
  taken: Record<string, unknown>;
  onRename: (to: string) => void;
}) {
  return (
    <input
      id={id}
      type="text"
      defaultValue={name}
      key={name}
      onBlur={(e) => {
        const to = e.target.value.trim();
        if (to && to !== name && !(to in taken)) onRename(to);
        else e.target.value = name;
      }}
      onKeyDown={(e) => {
        if (e.key === "Enter") (e.target as HTMLInputElement).blur();
      }}
    />
  );
}

/** A union: a picker of its variants, then the chosen variant's control. */
function UnionField({ ctx, name, schema, value, onChange, path, label, required, help, problems }: CompoundProps) {
  const { root } = ctx;
  const list = variants(schema, root);
  const chosen = value === undefined ? -1 : variantOf(schema, value, root);
  const id = controlId(ctx.idPrefix, path);
  return (
    <div className="forms-union">
      <Field id={`${id}-variant`} label={`${label}: kind`} help={help} problems={problems} required={required}>
        {(a11y) => (
          <select
            {...a11y}
            value={value === undefined ? "" : chosen >= 0 ? String(chosen) : "other"}
            onChange={(e) => {
              const v = e.target.value;
              if (v === "") onChange(undefined);
              else if (v !== "other") onChange(initialValue(list[Number(v)].schema, root) ?? "");
            }}
          >
            {!required || value === undefined ? <option value="">(not set)</option> : null}
            {value !== undefined && chosen < 0 ? <option value="other">other (YAML)</option> : null}
            {list.map((v, i) => (
              <option key={i} value={String(i)}>
                {v.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      {value === undefined ? null : chosen >= 0 ? (
        <ValueField ctx={ctx} name={name} schema={list[chosen].schema} required value={value} onChange={onChange} path={path} label={label} />
      ) : (
        <Field id={id} label={label} help="As YAML (or JSON).">
          {(a11y) => <YamlInput value={value} onChange={onChange} a11y={a11y} />}
        </Field>
      )}
    </div>
  );
}

/** The value at `path` of `root` and a setter for it: a small convenience for panels. */
export function bind(root: Record<string, unknown>, path: Path, onChange: (next: Record<string, unknown>) => void) {
  return {
    value: getIn(root, path),
    onChange: (v: unknown) => onChange(setIn(root, path, v)),
  };
}
