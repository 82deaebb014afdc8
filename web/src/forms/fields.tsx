// Small controls shared by the forms: a labelled field with its help and problems,
// text that may hold a number, a YAML fallback, an editable list, a picker.

import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import type { FieldInfo } from "./catalog";
import { deepEqual, formatScalar, fromYaml, move, parseNumberish, removeAt, replaceAt, toYaml } from "./paths";

export interface FieldProps {
  id: string;
  label: ReactNode;
  help?: ReactNode;
  problems?: string[];
  /** a local problem (a constraint of the schema), shown like the server's */
  local?: string | null;
  required?: boolean;
  className?: string;
  /** the label goes after the control (checkboxes) */
  inline?: boolean;
  children: (a11y: { id: string; "aria-describedby"?: string; "aria-invalid"?: boolean; "aria-required"?: boolean }) => ReactNode;
}

/** A control with its `<label>` (tied by id), help text and the problems about it. */
export function Field({ id, label, help, problems = [], local, required, className, inline, children }: FieldProps) {
  const messages = local && !problems.includes(local) ? [...problems, local] : problems;
  const described = [help ? `${id}-help` : null, messages.length ? `${id}-problems` : null].filter(Boolean).join(" ");
  const control = children({
    id,
    "aria-describedby": described || undefined,
    "aria-invalid": messages.length ? true : undefined,
    "aria-required": required || undefined,
  });
  // the star stays out of the label, so that the control's name is the label's text
  const labelEl = (
    <span className="forms-label">
      <label htmlFor={id}>{label}</label>
      {required ? (
        <span aria-hidden="true" className="forms-required">
          {" "}
          *
        </span>
      ) : null}
    </span>
  );
  return (
    <div className={`forms-field${inline ? " forms-inline" : ""}${className ? " " + className : ""}`}>
      {inline ? (
        <>
          {control}
          {labelEl}
        </>
      ) : (
        <>
          {labelEl}
          {control}
        </>
      )}
      {help ? (
        <p id={`${id}-help`} className="hint">
          {help}
        </p>
      ) : null}
      <ProblemList id={`${id}-problems`} messages={messages} />
    </div>
  );
}

/** The problems about a control or a group of them, as a list (nothing when there are none). */
export function ProblemList({ id, messages }: { id?: string; messages: string[] }) {
  if (!messages.length) return null;
  return (
    <ul id={id} className="forms-problems">
      {messages.map((m, i) => (
        <li key={i} className="error">
          {m}
        </li>
      ))}
    </ul>
  );
}

export type InputA11y = {
  id?: string;
  "aria-describedby"?: string;
  "aria-invalid"?: boolean;
  "aria-required"?: boolean;
  "aria-label"?: string;
};

/**
 * A text field for a number that may also hold text such as `${vars.min_spend}`: it
 * stores a number when the text is one, else the text (a number input would refuse
 * it). Empty text stores `undefined` (or `empty` when given).
 */
export function NumberishInput({
  value,
  onChange,
  integer,
  empty,
  a11y,
  placeholder,
  list,
  className,
  onFocus,
  parse: parseText,
}: {
  value: unknown;
  onChange: (next: unknown) => void;
  /** text → value; default: a number when the text is one, else the text */
  parse?: (text: string) => unknown;
  integer?: boolean;
  empty?: unknown;
  a11y: InputA11y;
  placeholder?: string;
  list?: string;
  className?: string;
  onFocus?: () => void;
}) {
  const [text, setText] = useState(() => formatScalar(value));
  const parse = (t: string) => {
    const v = parseText ? parseText(t) : parseNumberish(t, integer);
    return v === undefined ? empty : v;
  };
  // follow the value when it changes from outside (undo, another panel)
  useEffect(() => {
    if (!deepEqual(parse(text), value)) setText(formatScalar(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <input
      {...a11y}
      type="text"
      inputMode={parseText ? undefined : integer ? "numeric" : "decimal"}
      className={className}
      value={text}
      placeholder={placeholder}
      list={list}
      onFocus={onFocus}
      onChange={(e) => {
        setText(e.target.value);
        onChange(parse(e.target.value));
      }}
    />
  );
}

/** A small YAML (or JSON) text field for shapes the form does not know; kept as typed until valid. */
export function YamlInput({
  value,
  onChange,
  a11y,
  rows = 3,
}: {
  value: unknown;
  onChange: (next: unknown) => void;
  a11y: InputA11y;
  rows?: number;
}) {
  const [text, setText] = useState(() => toYaml(value));
  const [error, setError] = useState<string | null>(null);
  const last = useRef(value);
  useEffect(() => {
    if (!deepEqual(last.current, value)) {
      last.current = value;
      setText(toYaml(value));
      setError(null);
    }
  }, [value]);
  const errorId = useId();
  return (
    <>
      <textarea
        {...a11y}
        className="forms-yaml"
        rows={rows}
        spellCheck={false}
        value={text}
        aria-describedby={[a11y["aria-describedby"], error ? errorId : null].filter(Boolean).join(" ") || undefined}
        onChange={(e) => {
          setText(e.target.value);
          try {
            const parsed = fromYaml(e.target.value);
            setError(null);
            last.current = parsed;
            onChange(parsed);
          } catch (err) {
            setError((err as Error).message.split("\n")[0]);
          }
        }}
      />
      {error ? (
        <span id={errorId} className="error forms-yaml-error">
          Not valid YAML yet: {error}
        </span>
      ) : null}
    </>
  );
}

export interface PickerOption {
  value: string;
  label?: string;
}

/**
 * A `<select>` of known choices; the current value stays selectable when it is not one
 * of them. `emptyLabel` names the empty choice (which stores `undefined`).
 */
export function Picker({
  value,
  options,
  onChange,
  a11y,
  emptyLabel,
}: {
  value: string | undefined;
  options: PickerOption[];
  onChange: (next: string | undefined) => void;
  a11y: InputA11y;
  emptyLabel?: string | null;
}) {
  const known = options.some((o) => o.value === value);
  return (
    <select {...a11y} value={value ?? ""} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}>
      {emptyLabel !== null ? <option value="">{emptyLabel ?? "(not set)"}</option> : null}
      {value !== undefined && value !== "" && !known ? <option value={value}>{value} (not in the list)</option> : null}
      {options.map((o) => (
        <option key={o.value} value={o.value}>
          {o.label ?? o.value}
        </option>
      ))}
    </select>
  );
}

/**
 * An editable list of scalars: one labelled input per item, Add, Remove, Move.
 * `name` is the list's readable name (`Keys`), used in every control's name.
 */
export function ListEditor({
  idPrefix,
  name,
  items,
  onChange,
  renderItem,
  newItem = "",
}: {
  idPrefix: string;
  name: string;
  items: unknown[];
  onChange: (next: unknown[]) => void;
  renderItem: (item: unknown, set: (v: unknown) => void, a11y: { id: string }) => ReactNode;
  newItem?: unknown;
}) {
  return (
    <div className="forms-list">
      {items.length === 0 ? <p className="muted">None.</p> : null}
      <ol>
        {items.map((item, i) => {
          const id = `${idPrefix}-${i}`;
          const set = (v: unknown) => onChange(replaceAt(items, i, v));
          return (
            <li key={i}>
              <label htmlFor={id} className="sr-only">
                {name} {i + 1}
              </label>
              {renderItem(item, set, { id })}
              <ItemButtons items={items} index={i} what={`${name} ${i + 1}`} onChange={onChange} />
            </li>
          );
        })}
      </ol>
      <button type="button" aria-label={`Add to ${name}`} onClick={() => onChange([...items, newItem])}>
        Add
      </button>
    </div>
  );
}

/**
 * Move up, Move down and Remove for item `index` of a list. `what` names the item in
 * the buttons' names (`Keys 2`, `subset vip`), `after` ends them (` of subset vip`).
 */
export function ItemButtons<T>({
  items,
  index,
  what,
  after = "",
  onChange,
}: {
  items: T[];
  index: number;
  what: string;
  after?: string;
  onChange: (next: T[]) => void;
}) {
  return (
    <>
      <button type="button" aria-label={`Move ${what} up${after}`} disabled={index === 0} onClick={() => onChange(move(items, index, index - 1))}>
        ↑
      </button>
      <button
        type="button"
        aria-label={`Move ${what} down${after}`}
        disabled={index === items.length - 1}
        onClick={() => onChange(move(items, index, index + 1))}
      >
        ↓
      </button>
      <button type="button" className="danger" aria-label={`Remove ${what}${after}`} onClick={() => onChange(removeAt(items, index))}>
        Remove
      </button>
    </>
  );
}

/** A `<datalist>` of fields (their names, their types as labels), offered to the inputs that name one. */
export function FieldDatalist({ id, fields }: { id: string; fields: FieldInfo[] }) {
  return (
    <datalist id={id}>
      {fields.map((f) => (
        <option key={f.name} value={f.name}>
          {f.type}
        </option>
      ))}
    </datalist>
  );
}

/** Problems listed at the top of a panel. */
export function ProblemSummary({ problems, title = "Problems" }: { problems: { path: string; message: string }[]; title?: string }) {
  if (!problems.length) return null;
  return (
    <div className="forms-summary" role="status">
      <strong>
        {title} ({problems.length})
      </strong>
      <ul>
        {problems.map((p, i) => (
          <li key={i}>
            {p.path ? <code>{p.path}</code> : null}
            {p.path ? ": " : null}
            {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Wait `delay` ms after the last change of `value` before returning it. */
export function useDebounced<T>(value: T, delay: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}
