// The inputs of an activity as checkboxes, one per output port of every other
// activity (`tiers.vip`): the keyboard's way to connect activities.
import { useId, useMemo, useState } from "react";
import { formatRef, type Activity, type CampaignDocument } from "../canvas/convert";
import { outputRefs, sameRef } from "../canvas/edit";
import { takesInputs, typeName } from "../canvas/palette";

export interface InputsControlProps {
  doc: CampaignDocument;
  activity: Activity;
  readOnly: boolean;
  onChange: (inputs: string[]) => void;
  /** the problems about the inputs (wrong count, unknown port…), as sentences */
  problems?: string[];
}

/** Show a filter box above this many ports. */
const FILTER_FROM = 12;

export function InputsControl({ doc, activity, readOnly, onChange, problems = [] }: InputsControlProps) {
  const filterId = useId();
  const [filter, setFilter] = useState("");
  const inputs = useMemo(() => activity.inputs ?? [], [activity.inputs]);
  const options = useMemo(() => outputRefs(doc, activity.id), [doc, activity.id]);
  const missing = inputs.filter((ref) => !options.some((o) => sameRef(o.ref, ref)));

  if (!takesInputs(activity.type) && inputs.length === 0) {
    return (
      <fieldset className="ov-inputs">
        <legend>Inputs</legend>
        <p className="muted">A {typeName(activity.type).toLowerCase()} takes no inputs: it starts the flow.</p>
      </fieldset>
    );
  }

  const checked = (ref: string) => inputs.some((r) => sameRef(r, ref));
  const toggle = (source: string, port: string, on: boolean) => {
    const ref = `${source}.${port}`;
    onChange(on ? [...inputs, formatRef(source, port)] : inputs.filter((r) => !sameRef(r, ref)));
  };
  const needle = filter.trim().toLowerCase();
  const shown = options.filter((o) => !needle || o.ref.toLowerCase().includes(needle) || checked(o.ref));

  return (
    <fieldset className="ov-inputs" disabled={readOnly}>
      <legend>Inputs</legend>
      {problems.length > 0 && (
        <ul className="ov-activity-problems error">
          {problems.map((text, i) => (
            <li key={i}>{text}</li>
          ))}
        </ul>
      )}
      {options.length >= FILTER_FROM && (
        <p>
          <label htmlFor={filterId}>Filter the ports</label>{" "}
          <input id={filterId} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </p>
      )}
      {options.length === 0 && missing.length === 0 && <p className="muted">No other activity yet.</p>}
      <ul className="ov-checklist">
        {shown.map((o) => (
          <li key={o.ref}>
            <label>
              <input type="checkbox" checked={checked(o.ref)} onChange={(e) => toggle(o.source, o.port, e.target.checked)} />{" "}
              {o.ref}
            </label>
          </li>
        ))}
        {missing.map((ref) => (
          <li key={`missing-${ref}`}>
            <label className="error">
              <input type="checkbox" checked onChange={() => onChange(inputs.filter((r) => r !== ref))} /> {ref} (no such
              port)
            </label>
          </li>
        ))}
      </ul>
    </fieldset>
  );
}
