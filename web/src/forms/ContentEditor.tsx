// The content of a channel activity (email, sms, push) and its live preview.
//
// Content fields follow the activity's schema: text fields are inline Jinja templates
// or `{file: PATH}` chosen among GET /api/content/files. The preview renders the
// message for one profile (searched with GET /api/data/profiles) through
// POST /api/campaigns/{name}/preview with the whole current document.

import { useEffect, useRef, useState } from "react";
import type { Activity, CampaignDocument } from "../canvas/convert";
import { ApiError } from "../api";
import { errorMessage, formsApi, isAbort, useFiles, type MessagePreview, type ProfilesResponse, type RenderedMessage } from "./api";
import { Field, Picker, useDebounced } from "./fields";
import { formatScalar, setIn } from "./paths";
import { PropertyField, type FormContext, type SpecialField } from "./SchemaForm";
import { isObject, variants, type JsonSchema } from "./schema";

/** The settings the content section shows, per channel, when the schema has them. */
export const CONTENT_KEYS: Record<string, string[]> = {
  email: ["from", "reply_to", "subject", "html", "text"],
  sms: ["body"],
  push: ["title", "body", "data"],
};

export const CHANNELS = new Set(Object.keys(CONTENT_KEYS));

/** Whether a schema is content text: inline text or a `{file: PATH}` mapping. */
export function isContentText(schema: JsonSchema, root: JsonSchema): boolean {
  const names = variants(schema, root).map((v) => v.name);
  return names.length === 2 && names.includes("text") && names.includes("mapping");
}

const LONG = new Set(["html", "text", "body"]);

/** Inline text or a file of the workspace: `Source of HTML` picks, then the text or the file. */
export function ContentTextField({ field }: { field: SpecialField }) {
  const { value, onChange, id, label, problems, name, required } = field;
  const isFile = isObject(value);
  const files = useFiles();
  const sourceId = `${id}-source`;
  const long = LONG.has(String(name));
  const file = isFile ? formatScalar(value.file) : "";
  return (
    <div className="forms-content-field">
      <div className="forms-field">
        <label htmlFor={sourceId}>{label} source</label>
        <select
          id={sourceId}
          value={isFile ? "file" : "inline"}
          onChange={(e) => onChange(e.target.value === "file" ? { file: "" } : required ? "" : undefined)}
        >
          <option value="inline">inline</option>
          <option value="file">file</option>
        </select>
      </div>
      {isFile ? (
        <Field
          id={id}
          label={`${label} file`}
          problems={problems}
          help={files.error ? `Files unavailable: ${files.error}` : "A file of the workspace, inlined when the campaign is published."}
        >
          {(a11y) =>
            files.data ? (
              <Picker
                a11y={a11y}
                value={file || undefined}
                options={files.data.files.map((f) => ({ value: f }))}
                onChange={(v) => onChange(setIn(value, ["file"], v ?? ""))}
                emptyLabel="(choose a file)"
              />
            ) : (
              <input {...a11y} type="text" value={file} placeholder="templates/vip.html" onChange={(e) => onChange(setIn(value, ["file"], e.target.value))} />
            )
          }
        </Field>
      ) : (
        <Field id={id} label={label} problems={problems} help="A Jinja template: {{ first_name }}, {{ vars.NAME }}.">
          {(a11y) =>
            long ? (
              <textarea
                {...a11y}
                rows={6}
                className="forms-code"
                value={formatScalar(value)}
                onChange={(e) => onChange(e.target.value === "" && !required ? undefined : e.target.value)}
              />
            ) : (
              <input
                {...a11y}
                type="text"
                value={formatScalar(value)}
                onChange={(e) => onChange(e.target.value === "" && !required ? undefined : e.target.value)}
              />
            )
          }
        </Field>
      )}
    </div>
  );
}

export function ContentEditor({
  ctx,
  schema,
  activity,
  onChange,
  campaign,
  document,
}: {
  ctx: FormContext;
  schema: JsonSchema;
  activity: Activity;
  onChange: (next: Activity) => void;
  campaign: string;
  document: CampaignDocument;
}) {
  const keys = (CONTENT_KEYS[activity.type] ?? []).filter((k) => schema.properties?.[k]);
  return (
    <section className="forms-section" aria-label="Content">
      <h3>Content</h3>
      {keys.map((key) => (
        <PropertyField
          key={key}
          ctx={ctx}
          name={key}
          schema={schema.properties![key]}
          required={!!schema.required?.includes(key)}
          value={activity[key]}
          onChange={(v) => onChange(setIn(activity, [key], v))}
          path={[key]}
        />
      ))}
      <PreviewSection
        campaign={campaign}
        document={document}
        activity={activity}
        table={typeof document.target === "string" && document.target ? document.target : null}
      />
    </section>
  );
}

interface ProfileChoice {
  key: string;
  label: string;
}

/** The profiles of a GET /api/data/profiles answer: the key, labelled by the display columns. */
export function profileChoices(answer: ProfilesResponse): ProfileChoice[] {
  const list = Array.isArray(answer.profiles) ? answer.profiles : Array.isArray(answer.rows) ? answer.rows : [];
  const rows = list.filter(isObject);
  const key = typeof answer.key === "string" ? answer.key : rows[0] ? Object.keys(rows[0])[0] : "id";
  const shown = Array.isArray(answer.columns) ? answer.columns.filter((c) => c !== key) : null;
  return rows.map((row) => {
    const columns = shown ?? Object.keys(row).filter((c) => c !== key);
    const parts = [row[key], ...columns.map((c) => row[c])].filter((v) => v !== undefined && v !== null && v !== "");
    return { key: formatScalar(row[key]), label: parts.map(formatScalar).join(" · ") };
  });
}

interface Shown {
  preview: MessagePreview | null;
  error: string | null;
  /** where the profile stopped on its way to the activity (a 422 not_reached) */
  drops: { activity: string; type?: string; why: string }[];
  busy: boolean;
}

/** Search profiles, pick one, render the message they would get. */
function PreviewSection({
  campaign,
  document,
  activity,
  table,
}: {
  campaign: string;
  document: CampaignDocument;
  activity: Activity;
  /** the dimension whose profiles are searched (null: the schema's target) */
  table: string | null;
}) {
  const [query, setQuery] = useState("");
  const [profiles, setProfiles] = useState<{ list: ProfileChoice[]; error: string | null }>({ list: [], error: null });
  const [chosen, setChosen] = useState<string | null>(null);
  const [auto, setAuto] = useState(true);
  const [tick, setTick] = useState(0);
  const [shown, setShown] = useState<Shown>({ preview: null, error: null, drops: [], busy: false });
  const settledQuery = useDebounced(query, 300);
  useEffect(() => {
    const abort = new AbortController();
    formsApi.profiles(settledQuery, 20, table, abort.signal).then(
      (r) => setProfiles({ list: profileChoices(r), error: null }),
      (e) => !isAbort(e) && setProfiles({ list: [], error: errorMessage(e) }),
    );
    return () => abort.abort();
  }, [settledQuery, table]);
  // no choice made: the first profile found; a typed key is used once typing stops
  const settledChoice = useDebounced(chosen, 500);
  const profile = settledChoice ?? profiles.list[0]?.key ?? null;

  const docText = JSON.stringify(document);
  const settledDoc = useDebounced(docText, 1000);
  const docRef = useRef(document);
  docRef.current = document;
  /** the last preview run and the document it ran: another profile of the same document reuses it */
  const lastRun = useRef<{ run: string; doc: string } | null>(null);
  useEffect(() => {
    if (tick === 0 || profile === null) return;
    const abort = new AbortController();
    const doc = JSON.stringify(docRef.current);
    const run = lastRun.current && lastRun.current.doc === doc ? lastRun.current.run : undefined;
    setShown((s) => ({ ...s, busy: true }));
    formsApi.preview(campaign, docRef.current, activity.id, profile, run, abort.signal).then(
      (r) => {
        if (typeof r.run === "string") lastRun.current = { run: r.run, doc };
        setShown({ preview: r, error: null, drops: [], busy: false });
      },
      (e) => {
        if (isAbort(e)) return;
        const drops = e instanceof ApiError && Array.isArray(e.extra.drops) ? (e.extra.drops as Shown["drops"]) : [];
        setShown({ preview: null, error: errorMessage(e), drops, busy: false });
      },
    );
    return () => abort.abort();
    // the document is read through docRef; auto-refresh follows its settled text
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [tick, profile, campaign, activity.id, auto ? settledDoc : null]);

  const idBase = `preview-${activity.id.replace(/[^A-Za-z0-9_-]+/g, "_")}`;
  const preview = shown.preview;
  const message: RenderedMessage | null = preview ? (isObject(preview.message) ? preview.message : preview) : null;
  const text = (k: string) => (message && message[k] !== undefined && message[k] !== null ? formatScalar(message[k]) : null);
  const html = text("html");
  return (
    <section className="forms-preview" aria-label="Preview">
      <h4>Preview</h4>
      <div className="forms-row">
        <Field
          id={`${idBase}-search`}
          label="Search profiles"
          help={profiles.error ? `Profiles unavailable: ${profiles.error}` : "The start of a key or an email address."}
        >
          {(a11y) => <input {...a11y} type="search" value={query} placeholder="name, email or id" onChange={(e) => setQuery(e.target.value)} />}
        </Field>
        <Field id={`${idBase}-profile`} label="Profile" help={profiles.error ? "Or type the profile's key below." : undefined}>
          {(a11y) =>
            profiles.list.length || !profiles.error ? (
              <Picker
                a11y={a11y}
                value={profile ?? undefined}
                options={profiles.list.map((p) => ({ value: p.key, label: p.label }))}
                onChange={(v) => setChosen(v ?? null)}
                emptyLabel={profiles.list.length ? null : "(no profile found)"}
              />
            ) : (
              <input {...a11y} type="text" value={chosen ?? ""} placeholder="a key value" onChange={(e) => setChosen(e.target.value || null)} />
            )
          }
        </Field>
      </div>
      <div className="rule-actions">
        <button type="button" className="primary" disabled={profile === null} onClick={() => setTick((t) => t + 1)}>
          Preview
        </button>
        <label className="inline">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> Refresh as I edit
        </label>
        {shown.busy ? <span className="muted">Rendering…</span> : null}
      </div>
      {shown.error ? (
        <div role="alert">
          <p className="error">{shown.error}</p>
          {shown.drops.length > 1 ? (
            <ul className="forms-problems">
              {shown.drops.map((d, i) => (
                <li key={i}>
                  <code>{d.activity}</code>: {d.why}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      {message && !shown.error ? (
        <div className="forms-message">
          {preview?.address ? (
            <p>
              <strong>To:</strong> {preview.address}
            </p>
          ) : null}
          {preview?.excluded ? (
            <p className="warning">Live sending would not send it: {preview.excluded}</p>
          ) : null}
          {preview?.variant || preview?.language ? (
            <p className="muted">
              {preview.variant ? `Variant ${preview.variant}` : null}
              {preview.variant && preview.language ? " · " : null}
              {preview.language ? `Language ${preview.language}` : null}
            </p>
          ) : null}
          {text("subject") !== null ? (
            <p data-testid="preview-subject">
              <strong>Subject:</strong> {text("subject")}
            </p>
          ) : null}
          {text("title") !== null ? (
            <p>
              <strong>Title:</strong> {text("title")}
            </p>
          ) : null}
          {html !== null ? <iframe title="Message preview" sandbox="" srcDoc={html} className="forms-iframe" /> : null}
          {text("text") !== null ? (
            <pre className="forms-pre" aria-label="Text version">
              {text("text")}
            </pre>
          ) : null}
          {text("body") !== null ? (
            <pre className="forms-pre" aria-label="Message text">
              {text("body")}
            </pre>
          ) : null}
          {preview?.warnings?.length ? (
            <ul className="forms-problems">
              {preview.warnings.map((w, i) => (
                <li key={i} className="warning">
                  {w}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
