// The campaign's report (#/campaigns/NAME/report): the delivery funnel, the timeline,
// links, email domains, exclusions and A/B variants as charts, each with its numbers
// and an Export CSV button; filters by run, activity and period.
import { useEffect, useId, useMemo, useState, type ReactNode } from "react";
import { ApiError, campaigns, get } from "../api";
import { downloadText } from "../download";
import { formatCount, formatDateTime, formatPercent } from "../format";
import { href } from "../router";
import { BarChart, DataTable, LineChart, PALETTE } from "./charts";
import { csvFileName, toCsv, type Table } from "./csv";
import {
  PERIODS,
  domainLabel,
  domainRows,
  domainTable,
  exclusionRows,
  exclusionTable,
  funnelStages,
  funnelTable,
  linkLabels,
  linkRows,
  linkTable,
  nothingSent,
  periodFigures,
  scopeBlock,
  significanceText,
  timelineEmpty,
  timelineSeries,
  timelineTable,
  variantRows,
  variantTable,
  type Period,
  type Report,
} from "./reportData";
import type { TimeUnit } from "./scale";

const enc = encodeURIComponent;

interface Filters {
  run: string;
  activity: string;
  period: Period;
  includeMachine: boolean;
}

function reportPath(name: string, f: Filters): string {
  const query = new URLSearchParams();
  if (f.run) query.set("run", f.run);
  if (f.activity) query.set("activity", f.activity);
  if (f.includeMachine) query.set("include_machine", "true");
  const q = query.toString();
  return `/api/campaigns/${enc(name)}/report${q ? `?${q}` : ""}`;
}

type Load =
  | { state: "loading" }
  | { state: "ready"; report: Report }
  | { state: "empty"; message: string }
  | { state: "error"; message: string };

interface RunOption {
  id: string;
  status: string;
  created_at: string;
}

export function ReportView({ name }: { name: string }) {
  const [filters, setFilters] = useState<Filters>({ run: "", activity: "", period: "all", includeMachine: false });
  const [unit, setUnit] = useState<TimeUnit | null>(null);
  const [load, setLoad] = useState<Load>({ state: "loading" });
  const [runs, setRuns] = useState<RunOption[]>([]);
  const [knownActivities, setKnownActivities] = useState<string[]>([]);
  const ids = useId();

  useEffect(() => {
    document.title = `Report of ${name} · Overture`;
  }, [name]);

  // The live runs, for the run filter (test runs have no report).
  useEffect(() => {
    let cancelled = false;
    campaigns
      .runs(name, 200)
      .then((r) => {
        if (!cancelled) setRuns(r.runs.filter((run) => run.mode === "live"));
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [name]);

  const path = reportPath(name, filters);
  useEffect(() => {
    let cancelled = false;
    setLoad((current) => (current.state === "ready" ? current : { state: "loading" }));
    get<Report>(path)
      .then((report) => {
        if (cancelled) return;
        setLoad({ state: "ready", report });
        const ids = Object.keys(report.activities ?? {});
        setKnownActivities((known) => (ids.every((id) => known.includes(id)) ? known : [...known, ...ids.filter((id) => !known.includes(id))]));
      })
      .catch((e: unknown) => {
        if (cancelled) return;
        const message = e instanceof ApiError ? e.message : String(e);
        setLoad(e instanceof ApiError && e.code === "no_live_run" ? { state: "empty", message } : { state: "error", message });
      });
    return () => {
      cancelled = true;
    };
  }, [path]);

  const set = <K extends keyof Filters>(key: K, value: Filters[K]) => setFilters((f) => ({ ...f, [key]: value }));
  const activityOptions = filters.activity && !knownActivities.includes(filters.activity) ? [...knownActivities, filters.activity] : knownActivities;

  return (
    <main className="page report-view">
      <h1>
        Report of <a href={href({ page: "editor", name })}>{name}</a>
      </h1>
      <form className="toolbar report-filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor={`${ids}-run`}>Run</label>
        <select id={`${ids}-run`} value={filters.run} onChange={(e) => set("run", e.target.value)}>
            <option value="">All live runs</option>
            {runs.map((r) => (
              <option key={r.id} value={r.id}>
                {r.id} — {formatDateTime(r.created_at)} ({r.status})
              </option>
            ))}
            {filters.run && !runs.some((r) => r.id === filters.run) && <option value={filters.run}>{filters.run}</option>}
        </select>
        <label htmlFor={`${ids}-activity`}>Activity</label>
        <select id={`${ids}-activity`} value={filters.activity} onChange={(e) => set("activity", e.target.value)}>
            <option value="">All channel activities</option>
            {activityOptions.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
        </select>
        <label htmlFor={`${ids}-period`}>Period</label>
        <select id={`${ids}-period`} value={filters.period} onChange={(e) => set("period", e.target.value as Period)}>
            {PERIODS.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
        </select>
        <label className="inline">
          <input type="checkbox" checked={filters.includeMachine} onChange={(e) => set("includeMachine", e.target.checked)} /> Count
          machine opens and clicks
        </label>
      </form>

      {load.state === "loading" && <p>Loading…</p>}
      {load.state === "error" && (
        <p role="alert" className="error">
          {load.message}
        </p>
      )}
      {load.state === "empty" && (
        <div className="card report-empty" role="status">
          <p>
            <strong>Nothing sent yet.</strong> {load.message}
          </p>
        </div>
      )}
      {load.state === "ready" && <ReportBody report={load.report} filters={filters} unit={unit} onUnit={setUnit} />}
    </main>
  );
}

function Section({
  title,
  csv,
  fileName,
  note,
  children,
}: {
  title: string;
  /** the numbers shown, or null when there are none (empty state) */
  csv: Table | null;
  fileName: string;
  note?: ReactNode;
  children: ReactNode;
}) {
  return (
    <section className="report-section card" aria-label={title}>
      <header className="report-section-head">
        <h2>{title}</h2>
        <button type="button" disabled={!csv || csv.rows.length === 0} onClick={() => csv && downloadText(fileName, toCsv(csv), "text/csv;charset=utf-8")}>
          Export CSV
        </button>
      </header>
      {note && <p className="muted">{note}</p>}
      {children}
    </section>
  );
}

const Empty = ({ children }: { children: ReactNode }) => <p className="report-empty-state">{children}</p>;

function ReportBody({
  report,
  filters,
  unit,
  onUnit,
}: {
  report: Report;
  filters: Filters;
  unit: TimeUnit | null;
  onUnit: (unit: TimeUnit) => void;
}) {
  const ids = useId();
  const activity = filters.activity || null;
  const block = scopeBlock(report, activity);
  const figures = useMemo(() => periodFigures(block, filters.period), [block, filters.period]);
  const windowed = filters.period === "last_24h";
  const file = (section: string) =>
    csvFileName(report.campaign, filters.run && `run-${filters.run}`, activity, windowed ? "last-24h" : null, section);
  const allTimeNote = windowed ? "All time: the report counts this breakdown over all time only." : undefined;

  const stages = useMemo(() => funnelStages(figures), [figures]);
  const exclusions = exclusionRows(figures.excluded);
  const links = linkRows(report, activity);
  const domains = domainRows(block);
  const variants = variantRows(report, activity);

  // Hourly while the timeline is short, daily beyond three days (unless chosen).
  const dailyCount = block.timeline?.daily?.length ?? 0;
  const effectiveUnit: TimeUnit = unit ?? (windowed || dailyCount <= 3 ? "hourly" : "daily");
  const timeline = useMemo(
    () => timelineSeries(block.timeline?.[effectiveUnit], effectiveUnit, windowed ? report.windows?.last_24h : null),
    [block, effectiveUnit, windowed, report.windows],
  );

  const sent = figures.sent;
  const funnelEmpty = nothingSent(figures);

  return (
    <>
      <dl className="report-summary">
        <div>
          <dt>Live runs</dt>
          <dd>{formatCount(report.runs)}</dd>
        </div>
        <div>
          <dt>CTR</dt>
          <dd>
            {formatPercent(figures.ctr)} <span className="muted">of {figures.ctr_basis}</span>
          </dd>
        </div>
        <div>
          <dt>CTOR</dt>
          <dd>{formatPercent(figures.ctor)}</dd>
        </div>
        <div>
          <dt>Pending</dt>
          <dd>{formatCount(figures.pending)}</dd>
        </div>
        <div>
          <dt>Machine opens / clicks</dt>
          <dd>
            {formatCount(figures.opens.machine)} / {formatCount(figures.clicks.machine)}{" "}
            <span className="muted">{report.include_machine ? "(counted)" : "(left out)"}</span>
          </dd>
        </div>
        <div>
          <dt>{windowed ? "Window" : "As of"}</dt>
          <dd>
            {windowed
              ? `${formatDateTime(report.windows?.last_24h?.from)} – ${formatDateTime(report.windows?.last_24h?.to)}`
              : formatDateTime(report.now)}
          </dd>
        </div>
      </dl>

      <div className="report-grid">
        <Section title="Delivery funnel" csv={funnelEmpty ? null : funnelTable(stages)} fileName={file("funnel")}>
          {funnelEmpty ? (
            <Empty>Nothing sent yet{windowed ? " in the last 24 hours" : ""}.</Empty>
          ) : (
            <BarChart
              label={`Bar chart of messages per stage: ${stages.map((s) => `${s.label.toLowerCase()} ${formatCount(s.count)}`).join(", ")}.`}
              categories={stages.map((s) => s.label)}
              series={[{ key: "count", label: "Messages", values: stages.map((s) => s.count) }]}
              table={funnelTable(stages)}
              caption="Delivery funnel"
              groupAttrs={(i) => ({ "data-testid": `funnel-${stages[i].stage}`, "data-count": String(stages[i].count) })}
              categoryClass={(i) => `funnel-${stages[i].kind}`}
              valueText={(v, i) =>
                stages[i].percentOfSent === null || sent === 0 ? formatCount(v) : `${formatCount(v)} (${stages[i].percentOfSent}%)`
              }
              labelChars={18}
            />
          )}
        </Section>

        <Section
          title="Timeline"
          csv={timelineEmpty(timeline) ? null : timelineTable(timeline)}
          fileName={file(`timeline-${effectiveUnit}`)}
        >
          <div className="inline">
            <label htmlFor={`${ids}-unit`}>Buckets</label>
            <select id={`${ids}-unit`} value={effectiveUnit} onChange={(e) => onUnit(e.target.value as TimeUnit)}>
              <option value="hourly">Hourly</option>
              <option value="daily">Daily</option>
            </select>
          </div>
          {timelineEmpty(timeline) ? (
            <Empty>Nothing happened yet{windowed ? " in the last 24 hours" : ""}.</Empty>
          ) : (
            <LineChart
              label={`Line chart of sent, opens and clicks per ${effectiveUnit === "hourly" ? "hour" : "day"} (UTC), ${timeline.times.length} buckets: ${formatCount(sum(timeline.sent))} sent, ${formatCount(sum(timeline.opens))} opens, ${formatCount(sum(timeline.clicks))} clicks.`}
              times={timeline.times}
              unit={effectiveUnit}
              series={[
                { key: "sent", label: "Sent", values: timeline.sent, color: PALETTE[0] },
                { key: "opens", label: "Opens", values: timeline.opens, color: PALETTE[1] },
                { key: "clicks", label: "Clicks", values: timeline.clicks, color: PALETTE[2] },
              ]}
              table={timelineTable(timeline)}
              caption={`Sent, opens and clicks per ${effectiveUnit === "hourly" ? "hour" : "day"} (UTC)`}
            />
          )}
        </Section>

        <Section title="Links" csv={links.length ? linkTable(links) : null} fileName={file("links")} note={allTimeNote}>
          {links.length === 0 ? (
            <Empty>No tracked links yet.</Empty>
          ) : (
            <BarChart
              label={`Bar chart of clicks per link: ${links.map((l, i) => `${linkLabels(links)[i]} ${formatCount(l.clicks)}`).join(", ")}.`}
              categories={linkLabels(links)}
              series={[{ key: "clicks", label: "Clicks", values: links.map((l) => l.clicks) }]}
              table={linkTable(links)}
              caption="Clicks per link (people's clicks; unique: messages with a click; machine: counted apart)"
              labelChars={32}
            />
          )}
        </Section>

        <Section title="Email domains" csv={domains.length ? domainTable(domains) : null} fileName={file("domains")} note={allTimeNote}>
          {domains.length === 0 ? (
            <Empty>No email sent yet.</Empty>
          ) : (
            <BarChart
              label={`Bar chart of messages per email domain: ${domains
                .slice(0, 10)
                .map((d) => `${domainLabel(d)} ${formatCount(d.sent)} sent, ${formatCount(d.bounced)} bounced`)
                .join("; ")}${domains.length > 10 ? "; and more" : ""}.`}
              categories={domains.map(domainLabel)}
              series={[
                { key: "sent", label: "Sent", values: domains.map((d) => d.sent) },
                { key: "delivered", label: "Delivered", values: domains.map((d) => d.delivered) },
                { key: "bounced", label: "Bounced", values: domains.map((d) => d.bounced), color: PALETTE[3] },
                { key: "opens", label: "Opened", values: domains.map((d) => d.opens), color: PALETTE[2] },
              ]}
              table={domainTable(domains)}
              caption="Messages per email domain"
              labelChars={26}
            />
          )}
        </Section>

        <Section title="Exclusions" csv={exclusions.length ? exclusionTable(exclusions) : null} fileName={file("exclusions")}>
          {exclusions.length === 0 ? (
            <Empty>Nobody was excluded{windowed ? " in the last 24 hours" : ""}.</Empty>
          ) : (
            <BarChart
              label={`Bar chart of profiles excluded at send time, by reason: ${exclusions.map((r) => `${r.label.toLowerCase()} ${formatCount(r.count)}`).join(", ")}.`}
              categories={exclusions.map((r) => r.label)}
              series={[{ key: "count", label: "Profiles", values: exclusions.map((r) => r.count), color: PALETTE[3] }]}
              table={exclusionTable(exclusions)}
              caption="Profiles excluded at send time, by reason"
              groupAttrs={(i) => ({ "data-testid": `exclusion-${exclusions[i].reason}`, "data-count": String(exclusions[i].count) })}
              labelChars={26}
            />
          )}
        </Section>

        <Section title="A/B variants" csv={variants.length ? variantTable(variants) : null} fileName={file("variants")} note={allTimeNote}>
          {variants.length === 0 ? (
            <Empty>No A/B variants were sent.</Empty>
          ) : (
            <>
              <BarChart
                label={`Bar chart of messages per variant: ${variants
                  .map((v) => `${v.variant} ${formatCount(v.sent)} sent, ${formatCount(v.opens)} opened, ${formatCount(v.clicks)} clicked`)
                  .join("; ")}.`}
                categories={variants.map((v) => (activity || new Set(variants.map((x) => x.activity)).size === 1 ? v.variant : `${v.activity}: ${v.variant}`))}
                series={[
                  { key: "sent", label: "Sent", values: variants.map((v) => v.sent) },
                  { key: "opens", label: "Opened", values: variants.map((v) => v.opens), color: PALETTE[1] },
                  { key: "clicks", label: "Clicked", values: variants.map((v) => v.clicks), color: PALETTE[2] },
                ]}
                table={variantTable(variants)}
                caption="Messages per variant"
                labelChars={20}
              />
              <div className="rows-scroll">
                <DataTable
                  caption="Click rate per variant, against the first (baseline)"
                  table={{
                    columns: ["activity", "variant", "click rate", "lift", "p-value", "result"],
                    rows: variants.map((v) => [
                      v.activity,
                      v.variant,
                      v.clickRate === null ? null : `${v.clickRate}%`,
                      v.lift === null ? null : `${v.lift > 0 ? "+" : ""}${v.lift}%`,
                      v.pValue === null ? null : String(v.pValue),
                      significanceText(v),
                    ]),
                  }}
                />
              </div>
            </>
          )}
        </Section>
      </div>
    </>
  );
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
