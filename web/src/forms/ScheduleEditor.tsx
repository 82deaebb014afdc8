// The campaign's schedule (spec §7) and its next ten starts, asked of the server
// (POST /api/schedules/preview) a moment after each change.

import { useEffect, useState, type ReactNode } from "react";
import { errorMessage, formsApi, isAbort, type SchedulePreview } from "./api";
import { Field, NumberishInput, ProblemList, useDebounced } from "./fields";
import { problemsAt, setIn, type PathProblem } from "./paths";
import {
  DAYS,
  KINDS,
  KIND_LABELS,
  MONTHS,
  formatList,
  hourlyByHours,
  parseIntegers,
  scheduleKind,
  switchKind,
  toLocalInput,
  toggleDay,
  toggleMonth,
  type ScheduleKind,
} from "./schedule";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function ScheduleEditor({
  value,
  onChange,
  timezone,
  problems,
  idPrefix = "schedule",
}: {
  /** the `schedule:` mapping; undefined: started by hand */
  value: unknown;
  onChange: (next: unknown) => void;
  timezone: string;
  /** problems with paths relative to the schedule (`weekly.at`; `` for the schedule itself) */
  problems: PathProblem[];
  idPrefix?: string;
}) {
  const kind = scheduleKind(value);
  const schedule: Obj = isObj(value) ? value : {};
  const id = (part: string) => `${idPrefix}-${part}`;
  const at = (path: (string | number)[]) => problemsAt(problems, path);
  const set = (path: (string | number)[], v: unknown) => onChange(setIn(schedule, path, v));
  const body = kind ? schedule[kind] : undefined;
  const kindValue: Obj = isObj(body) ? body : {};

  let fields: ReactNode = null;
  switch (kind) {
    case "once":
      fields = (
        <Field id={id("once")} label="Starts at" help={`Local date and time, in ${timezone}.`} problems={at(["once"])}>
          {(a11y) => (
            <input {...a11y} type="datetime-local" value={toLocalInput(body)} onChange={(e) => set(["once"], e.target.value)} />
          )}
        </Field>
      );
      break;
    case "daily":
      fields = (
        <>
          <TimeField id={id("daily-at")} label="At" value={kindValue.at} problems={at(["daily", "at"])} onChange={(v) => set(["daily", "at"], v)} />
          <DayBoxes
            legend="Days"
            help="None checked: every day."
            value={kindValue.days}
            problems={at(["daily", "days"])}
            onChange={(days) => set(["daily", "days"], days.length ? days : undefined)}
          />
        </>
      );
      break;
    case "weekly":
      fields = (
        <>
          <DayBoxes legend="Days" value={kindValue.days} problems={at(["weekly", "days"])} onChange={(days) => set(["weekly", "days"], days)} />
          <TimeField id={id("weekly-at")} label="At" value={kindValue.at} problems={at(["weekly", "at"])} onChange={(v) => set(["weekly", "at"], v)} />
          <Field id={id("weekly-every")} label="Every (weeks)" help="Empty: every week. More than 1 counts from the start date." problems={at(["weekly", "every"])}>
            {(a11y) => <NumberishInput a11y={a11y} integer value={kindValue.every} onChange={(v) => set(["weekly", "every"], v)} />}
          </Field>
        </>
      );
      break;
    case "hourly": {
      const byHours = hourlyByHours(body);
      const between = Array.isArray(kindValue.between) ? kindValue.between : undefined;
      fields = (
        <>
          <Field id={id("hourly-form")} label="Hours given as">
            {(a11y) => (
              <select
                {...a11y}
                value={byHours ? "hours" : "every"}
                onChange={(e) => set(["hourly"], e.target.value === "hours" ? { hours: [9], minute: 0 } : { every: "1h" })}
              >
                <option value="every">every N hours or minutes</option>
                <option value="hours">a list of hours</option>
              </select>
            )}
          </Field>
          {byHours ? (
            <>
              <HoursField id={id("hourly-hours")} value={kindValue.hours} problems={at(["hourly", "hours"])} onChange={(v) => set(["hourly", "hours"], v)} />
              <Field id={id("hourly-minute")} label="Minute" help="0 to 59; empty: 0." problems={at(["hourly", "minute"])}>
                {(a11y) => <NumberishInput a11y={a11y} integer value={kindValue.minute} onChange={(v) => set(["hourly", "minute"], v)} />}
              </Field>
            </>
          ) : (
            <>
              <Field id={id("hourly-every")} label="Every" help="Such as 2h or 30m." problems={at(["hourly", "every"])}>
                {(a11y) => (
                  <input {...a11y} type="text" value={String(kindValue.every ?? "")} onChange={(e) => set(["hourly", "every"], e.target.value)} />
                )}
              </Field>
              <TimeField
                id={id("hourly-from")}
                label="Between (from)"
                value={between?.[0]}
                problems={at(["hourly", "between"]).concat(at(["hourly", "between", 0]))}
                onChange={(v) => set(["hourly", "between"], v || between?.[1] ? [v ?? "", between?.[1] ?? "23:59"] : undefined)}
              />
              <TimeField
                id={id("hourly-to")}
                label="Between (to)"
                value={between?.[1]}
                problems={at(["hourly", "between", 1])}
                onChange={(v) => set(["hourly", "between"], v || between?.[0] ? [between?.[0] ?? "00:00", v ?? ""] : undefined)}
              />
            </>
          )}
        </>
      );
      break;
    }
    case "monthly": {
      const byNth = "nth" in kindValue || "weekday" in kindValue;
      fields = (
        <>
          <Field id={id("monthly-form")} label="On">
            {(a11y) => (
              <select
                {...a11y}
                value={byNth ? "nth" : "day"}
                onChange={(e) => {
                  const { day: _d, nth: _n, weekday: _w, ...rest } = kindValue;
                  set(["monthly"], e.target.value === "nth" ? { nth: 1, weekday: "mon", ...rest } : { day: 1, ...rest });
                }}
              >
                <option value="day">a day of the month</option>
                <option value="nth">a weekday of the month</option>
              </select>
            )}
          </Field>
          {byNth ? (
            <>
              <Field id={id("monthly-nth")} label="Which" problems={at(["monthly", "nth"])}>
                {(a11y) => (
                  <select {...a11y} value={String(kindValue.nth ?? "")} onChange={(e) => set(["monthly", "nth"], Number(e.target.value))}>
                    {kindValue.nth === undefined ? <option value="">(choose)</option> : null}
                    {[1, 2, 3, 4, 5, -1, -2].map((n) => (
                      <option key={n} value={String(n)}>
                        {n > 0 ? ["first", "second", "third", "fourth", "fifth"][n - 1] : n === -1 ? "last" : "second to last"}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              <Field id={id("monthly-weekday")} label="Weekday" problems={at(["monthly", "weekday"])}>
                {(a11y) => (
                  <select {...a11y} value={String(kindValue.weekday ?? "")} onChange={(e) => set(["monthly", "weekday"], e.target.value)}>
                    {kindValue.weekday === undefined ? <option value="">(choose)</option> : null}
                    {DAYS.map((d) => (
                      <option key={d} value={d}>
                        {d}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            </>
          ) : (
            <Field id={id("monthly-day")} label="Day of the month" problems={at(["monthly", "day"])}>
              {(a11y) => (
                <select
                  {...a11y}
                  value={String(kindValue.day ?? "")}
                  onChange={(e) => set(["monthly", "day"], e.target.value === "last" ? "last" : Number(e.target.value))}
                >
                  {kindValue.day === undefined ? <option value="">(choose)</option> : null}
                  {Array.from({ length: 31 }, (_, i) => (
                    <option key={i} value={String(i + 1)}>
                      {i + 1}
                    </option>
                  ))}
                  <option value="last">last</option>
                </select>
              )}
            </Field>
          )}
          <TimeField id={id("monthly-at")} label="At" value={kindValue.at} problems={at(["monthly", "at"])} onChange={(v) => set(["monthly", "at"], v)} />
          <fieldset className="forms-fieldset forms-checks">
            <legend>Months</legend>
            <p className="hint">None checked: every month.</p>
            {MONTHS.map((m, i) => {
              const checked = Array.isArray(kindValue.months) && kindValue.months.includes(i + 1);
              return (
                <label key={m} className="inline">
                  <input
                    type="checkbox"
                    checked={checked}
                    onChange={(e) => {
                      const next = toggleMonth(kindValue.months, i + 1, e.target.checked);
                      set(["monthly", "months"], next.length ? next : undefined);
                    }}
                  />
                  {m}
                </label>
              );
            })}
            <ProblemList messages={at(["monthly", "months"])} />
          </fieldset>
        </>
      );
      break;
    }
    case "cron":
      fields = (
        <Field
          id={id("cron")}
          label="Cron expression"
          help="minute hour day-of-month month day-of-week, such as 15 9 * * 1-5 (0 and 7 are Sunday)."
          problems={at(["cron"])}
        >
          {(a11y) => <input {...a11y} type="text" value={typeof body === "string" ? body : ""} onChange={(e) => set(["cron"], e.target.value)} />}
        </Field>
      );
      break;
    case "signal":
      fields = (
        <Field
          id={id("signal-interval")}
          label="Minimum interval"
          help="Such as 1h: a signal sooner after the last start is refused. Empty: no limit."
          problems={at(["signal", "min_interval"])}
        >
          {(a11y) => (
            <input
              {...a11y}
              type="text"
              value={String(kindValue.min_interval ?? "")}
              onChange={(e) => set(["signal"], setIn(isObj(body) ? body : {}, ["min_interval"], e.target.value === "" ? undefined : e.target.value))}
            />
          )}
        </Field>
      );
      break;
  }

  return (
    <fieldset className="forms-fieldset forms-schedule" aria-label="Schedule">
      <legend>Schedule</legend>
      <ProblemList messages={at([])} />
      <Field id={id("kind")} label="Schedule kind" problems={[]}>
        {(a11y) => (
          <select {...a11y} value={kind ?? ""} onChange={(e) => onChange(switchKind(value, (e.target.value || null) as ScheduleKind | null))}>
            <option value="">by hand (no schedule)</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {KIND_LABELS[k]}
              </option>
            ))}
          </select>
        )}
      </Field>
      {fields}
      {kind && kind !== "once" ? (
        <div className="forms-row">
          <DateField id={id("start")} label="Valid from" value={schedule.start} problems={at(["start"])} onChange={(v) => set(["start"], v)} />
          <DateField id={id("end")} label="Valid until" value={schedule.end} problems={at(["end"])} onChange={(v) => set(["end"], v)} />
        </div>
      ) : null}
      <NextStarts schedule={isObj(value) ? value : undefined} timezone={timezone} />
    </fieldset>
  );
}

interface InputFieldProps {
  id: string;
  label: string;
  value: unknown;
  problems: string[];
  onChange: (v: string | undefined) => void;
}

/** A time or a date, as the text of its input; empty stores undefined. */
function DateTimeField({ type, help, id, label, value, problems, onChange }: InputFieldProps & { type: "time" | "date"; help: string }) {
  return (
    <Field id={id} label={label} help={help} problems={problems}>
      {(a11y) => (
        <input {...a11y} type={type} value={typeof value === "string" ? value : ""} onChange={(e) => onChange(e.target.value || undefined)} />
      )}
    </Field>
  );
}

const TimeField = (props: InputFieldProps) => <DateTimeField {...props} type="time" help="HH:MM, local time." />;
const DateField = (props: InputFieldProps) => <DateTimeField {...props} type="date" help="Optional, inclusive." />;

function DayBoxes({
  legend,
  help,
  value,
  problems,
  onChange,
}: {
  legend: string;
  help?: string;
  value: unknown;
  problems: string[];
  onChange: (days: string[]) => void;
}) {
  const days = Array.isArray(value) ? value.map(String) : [];
  return (
    <fieldset className="forms-fieldset forms-checks">
      <legend>{legend}</legend>
      {help ? <p className="hint">{help}</p> : null}
      {DAYS.map((d) => (
        <label key={d} className="inline">
          <input type="checkbox" checked={days.includes(d)} onChange={(e) => onChange(toggleDay(value, d, e.target.checked))} />
          {d[0].toUpperCase() + d.slice(1)}
        </label>
      ))}
      <ProblemList messages={problems} />
    </fieldset>
  );
}

function HoursField({ id, value, problems, onChange }: { id: string; value: unknown; problems: string[]; onChange: (v: unknown) => void }) {
  const [text, setText] = useState(formatList(value));
  useEffect(() => {
    if (JSON.stringify(parseIntegers(text)) !== JSON.stringify(value ?? [])) setText(formatList(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <Field id={id} label="Hours" help="0 to 23, separated by commas, such as 9, 13, 17." problems={problems}>
      {(a11y) => (
        <input
          {...a11y}
          type="text"
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            onChange(parseIntegers(e.target.value));
          }}
        />
      )}
    </Field>
  );
}

function formatStart(iso: string, timezone: string): string {
  try {
    return new Intl.DateTimeFormat(undefined, {
      timeZone: timezone,
      weekday: "short",
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

/** The next ten starts, from the server, a moment after the schedule or the zone changes. */
function NextStarts({ schedule, timezone }: { schedule: Obj | undefined; timezone: string }) {
  const key = useDebounced(JSON.stringify({ schedule: schedule ?? null, timezone }), 400);
  const [state, setState] = useState<{ preview: SchedulePreview | null; error: string | null; busy: boolean }>({
    preview: null,
    error: null,
    busy: false,
  });
  useEffect(() => {
    const { schedule: s, timezone: tz } = JSON.parse(key) as { schedule: Obj | null; timezone: string };
    if (!s || !scheduleKind(s)) {
      setState({ preview: null, error: null, busy: false });
      return;
    }
    const abort = new AbortController();
    setState((st) => ({ ...st, busy: true }));
    formsApi.schedulePreview(s, tz, 10, abort.signal).then(
      (preview) => setState({ preview, error: null, busy: false }),
      (e) => !isAbort(e) && setState({ preview: null, error: errorMessage(e), busy: false }),
    );
    return () => abort.abort();
  }, [key]);
  const kind = scheduleKind(schedule);
  if (!kind) return <p className="muted">Started by hand: no scheduled starts.</p>;
  const starts = state.preview?.starts ?? [];
  const zone = state.preview?.timezone ?? timezone;
  return (
    <div className="forms-starts">
      <h4>Next starts{state.busy ? <span className="muted"> (updating…)</span> : null}</h4>
      {state.error ? (
        <p className="error" role="alert">
          {state.error}
        </p>
      ) : null}
      <ol aria-label="Next starts" aria-busy={state.busy}>
        {starts.map((iso) => (
          <li key={iso}>
            <time dateTime={iso}>{formatStart(iso, zone)}</time> <span className="muted">{iso}</span>
          </li>
        ))}
      </ol>
      {!state.error && !state.busy && state.preview && starts.length === 0 ? (
        <p className="muted">{kind === "signal" ? "Started by a signal through the API: no planned starts." : "No start to come."}</p>
      ) : null}
    </div>
  );
}
