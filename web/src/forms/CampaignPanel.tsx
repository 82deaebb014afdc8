// The side panel of the campaign itself: name (read only), label, description,
// target, time zone, schedule, variables and error policy. `activities` and `canvas`
// are never touched.

import type { CampaignDocument } from "../canvas/convert";
import type { CampaignPanelProps } from "../panels";
import { useCampaignSchema, useTables } from "./api";
import { Field, NumberishInput, Picker, ProblemSummary, YamlInput } from "./fields";
import { formatScalar, problemsAt, problemsUnder, renameKey, setIn, type PathProblem } from "./paths";
import { ScheduleEditor } from "./ScheduleEditor";
import { PropertyField, RenameInput, type FormContext } from "./SchemaForm";
import { choices, isObject, resolve, type JsonSchema } from "./schema";

const ZONES: string[] = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  } catch {
    return [];
  }
})();

export function CampaignPanel({ campaign, document, onChange, problems }: CampaignPanelProps) {
  const root = useCampaignSchema();
  const idPrefix = "campaign";
  const relative: PathProblem[] = problems.map((p) => ({ path: p.path, message: p.message }));
  const ctx: FormContext = { root, idPrefix, problems: relative };
  const props = root.properties ?? {};
  const set = (key: string, v: unknown) => onChange(setIn(document, [key], v) as CampaignDocument);
  const timezone = typeof document.timezone === "string" && document.timezone ? document.timezone : "UTC";
  const under = (key: string) =>
    problemsUnder(relative, key).map((p) => ({ path: p.path === key ? "" : p.path.slice(key.length + 1), message: p.message }));

  return (
    <section className="forms-panel" aria-label="Campaign settings">
      <ProblemSummary problems={relative} />
      <Field id={`${idPrefix}-name`} label="Name" help="The campaign's slug; duplicate the campaign to get another name." problems={problemsAt(relative, ["name"])}>
        {(a11y) => <input {...a11y} type="text" readOnly value={typeof document.name === "string" ? document.name : campaign} />}
      </Field>
      <PropertyField ctx={ctx} name="label" schema={props.label ?? {}} required={false} value={document.label} onChange={(v) => set("label", v)} path={["label"]} />
      <PropertyField
        ctx={ctx}
        name="description"
        schema={props.description ?? {}}
        required={false}
        value={document.description}
        onChange={(v) => set("description", v)}
        path={["description"]}
      />
      <TargetField value={document.target} problems={problemsAt(relative, ["target"])} onChange={(v) => set("target", v)} />
      <Field
        id={`${idPrefix}-timezone`}
        label="Time zone"
        help="An IANA zone such as Europe/Paris; empty: UTC. Schedules and dates are read in it."
        problems={problemsAt(relative, ["timezone"])}
      >
        {(a11y) => (
          <>
            <input
              {...a11y}
              type="text"
              list={`${idPrefix}-zones`}
              autoComplete="off"
              placeholder="UTC"
              value={typeof document.timezone === "string" ? document.timezone : formatScalar(document.timezone)}
              onChange={(e) => set("timezone", e.target.value === "" ? undefined : e.target.value)}
            />
            <datalist id={`${idPrefix}-zones`}>
              {ZONES.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </>
        )}
      </Field>
      <ScheduleEditor
        value={document.schedule}
        onChange={(v) => set("schedule", v)}
        timezone={timezone}
        problems={under("schedule")}
        idPrefix={`${idPrefix}-schedule`}
      />
      <VariablesEditor
        root={root}
        value={document.variables}
        onChange={(v) => set("variables", v)}
        problems={relative}
        idPrefix={`${idPrefix}-variables`}
      />
      <PropertyField
        ctx={ctx}
        name="error_policy"
        schema={props.error_policy ?? {}}
        required={false}
        value={document.error_policy}
        onChange={(v) => set("error_policy", v)}
        path={["error_policy"]}
        label="Error policy"
      />
    </section>
  );
}

function TargetField({ value, problems, onChange }: { value: unknown; problems: string[]; onChange: (v: string | undefined) => void }) {
  const tables = useTables();
  const id = "campaign-target";
  const text = typeof value === "string" ? value : undefined;
  return (
    <Field
      id={id}
      label="Target"
      help={tables.error ? `Tables unavailable: ${tables.error}` : "The targeting dimension: a table of schema.yaml."}
      problems={problems}
    >
      {(a11y) =>
        tables.data ? (
          <Picker
            a11y={a11y}
            value={text}
            options={tables.data.tables.map((t) => ({ value: t.name, label: t.key ? `${t.name} (key ${t.key})` : t.name }))}
            onChange={onChange}
            emptyLabel={tables.data.target ? `(schema default: ${tables.data.target})` : "(schema default)"}
          />
        ) : (
          <input {...a11y} type="text" value={text ?? ""} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)} />
        )
      }
    </Field>
  );
}

/** The campaign's variables: name, type, default, test value and description each. */
function VariablesEditor({
  root,
  value,
  onChange,
  problems,
  idPrefix,
}: {
  root: JsonSchema;
  value: unknown;
  onChange: (v: unknown) => void;
  problems: PathProblem[];
  idPrefix: string;
}) {
  const vars = isObject(value) ? value : {};
  const spec = resolve({ $ref: "#/$defs/VariableSpec" }, root);
  const types = (choices(spec.properties?.type ?? {}, root) ?? ["string", "integer", "number", "boolean", "date", "datetime"]).map(String);
  const set = (next: Record<string, unknown>) => onChange(Object.keys(next).length ? next : undefined);
  const add = () => {
    let n = Object.keys(vars).length + 1;
    while (`variable_${n}` in vars) n++;
    set({ ...vars, [`variable_${n}`]: {} });
  };
  return (
    <fieldset className="forms-fieldset" aria-label="Variables">
      <legend>Variables</legend>
      <p className="hint">Used as {"${vars.NAME}"} in rules and {"{{ vars.NAME }}"} in content; a signal or a test run may set them.</p>
      <ul className="forms-problems">
        {problemsAt(problems, ["variables"]).map((m, i) => (
          <li key={i} className="error">
            {m}
          </li>
        ))}
      </ul>
      {Object.entries(vars).map(([name, raw], i) => {
        const n = i + 1;
        const item = isObject(raw) ? raw : {};
        const type = typeof item.type === "string" ? item.type : "string";
        const setItem = (key: string, v: unknown) => set(setIn(vars, [name, key], v));
        const at = (key?: string) => problemsAt(problems, key ? ["variables", name, key] : ["variables", name]);
        const id = (part: string) => `${idPrefix}-${i}-${part}`;
        return (
          <fieldset key={i} className="forms-item" aria-label={`Variable ${n}`}>
            <legend>
              Variable {n}: <code>{name}</code>
            </legend>
            <ul className="forms-problems">
              {at().map((m, j) => (
                <li key={j} className="error">
                  {m}
                </li>
              ))}
            </ul>
            <div className="forms-field">
              <label htmlFor={id("name")}>Name of variable {n}</label>
              <RenameInput id={id("name")} name={name} taken={vars} onRename={(to) => set(renameKey(vars, name, to))} />
            </div>
            {isObject(raw) || raw === undefined ? (
              <>
                <Field id={id("type")} label={`Type of variable ${n}`} problems={at("type")}>
                  {(a11y) => (
                    <Picker a11y={a11y} value={typeof item.type === "string" ? item.type : undefined} options={types.map((t) => ({ value: t }))} onChange={(v) => setItem("type", v)} emptyLabel="(default: string)" />
                  )}
                </Field>
                <TypedValue id={id("default")} label={`Default of variable ${n}`} type={type} value={item.default} problems={at("default")} onChange={(v) => setItem("default", v)} />
                <TypedValue
                  id={id("test")}
                  label={`Test value of variable ${n}`}
                  type={type}
                  value={item.test_value}
                  problems={at("test_value")}
                  help="Used by test runs instead of the default."
                  onChange={(v) => setItem("test_value", v)}
                />
                <Field id={id("description")} label={`Description of variable ${n}`} problems={at("description")}>
                  {(a11y) => (
                    <input
                      {...a11y}
                      type="text"
                      value={typeof item.description === "string" ? item.description : ""}
                      onChange={(e) => setItem("description", e.target.value === "" ? undefined : e.target.value)}
                    />
                  )}
                </Field>
              </>
            ) : (
              <Field id={id("yaml")} label={`Variable ${n} as YAML`} help="Not a mapping: edit it as YAML.">
                {(a11y) => <YamlInput a11y={a11y} value={raw} onChange={(v) => set(setIn(vars, [name], v))} />}
              </Field>
            )}
            <button type="button" className="danger" aria-label={`Remove variable ${n}`} onClick={() => set(setIn(vars, [name], undefined))}>
              Remove
            </button>
          </fieldset>
        );
      })}
      <button type="button" onClick={add}>
        Add variable
      </button>
    </fieldset>
  );
}

/** A variable's value, typed by the variable's type. */
function TypedValue({
  id,
  label,
  type,
  value,
  problems,
  help,
  onChange,
}: {
  id: string;
  label: string;
  type: string;
  value: unknown;
  problems: string[];
  help?: string;
  onChange: (v: unknown) => void;
}) {
  return (
    <Field id={id} label={label} problems={problems} help={help ?? (type === "date" ? "Such as 2027-03-01." : type === "datetime" ? "Such as 2027-03-01T09:00." : undefined)}>
      {(a11y) => {
        if (type === "integer" || type === "number") {
          return <NumberishInput a11y={a11y} integer={type === "integer"} value={value} onChange={onChange} />;
        }
        if (type === "boolean") {
          return (
            <select {...a11y} value={value === true ? "true" : value === false ? "false" : ""} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value === "true")}>
              <option value="">(not set)</option>
              <option value="true">true</option>
              <option value="false">false</option>
            </select>
          );
        }
        if (value !== undefined && value !== null && typeof value !== "string") {
          return <YamlInput a11y={a11y} value={value} onChange={onChange} rows={1} />;
        }
        return <input {...a11y} type="text" value={value ?? ""} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)} />;
      }}
    </Field>
  );
}
