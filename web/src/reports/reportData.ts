// The report resource (spec §9, docs/reports.md, GET /api/campaigns/{name}/report)
// turned into what each section of the report page shows: one table per section,
// which both its chart and its Export CSV button read, so the download holds exactly
// the numbers on screen. Pure.

import type { Table } from "./csv";
import { isoUtc, unitMs, type TimeUnit } from "./scale";

// ---- the resource ----

export interface Figures {
  targeted: number;
  excluded: Record<string, number>;
  pending: number;
  sent: number;
  delivered: number;
  bounces: { hard: number; soft: number };
  errors: number;
  opens: { total: number; unique: number; machine: number };
  clicks: { total: number; unique: number; machine: number };
  unsubscribes: number;
  complaints: number;
  ctr: number | null;
  ctr_basis: "delivered" | "sent" | string;
  ctor: number | null;
}

export interface LinkRow {
  link: number | null;
  url: string | null;
  clicks?: number;
  unique?: number;
  machine?: number;
}

export interface DomainRow {
  domain: string;
  /** how many domains `(other)` adds up */
  domains?: number;
  targeted: number;
  sent: number;
  delivered: number;
  bounced: number;
  opens: number;
  clicks: number;
  unsubscribes: number;
  complaints: number;
}

export interface VariantRow {
  variant: string;
  sent: number;
  delivered: number;
  opens: number;
  clicks: number;
  click_rate: number | null;
  baseline: boolean;
  lift: number | null;
  z: number | null;
  p_value: number | null;
  significant: boolean;
  enough_data: boolean | null;
}

export interface Bucket {
  at: string;
  sent: number;
  opens: number;
  clicks: number;
}

export interface Timeline {
  hourly: Bucket[];
  daily: Bucket[];
}

export interface TotalsBlock extends Figures {
  last_24h: Figures;
  domains: DomainRow[];
  timeline: Timeline;
}

export interface ActivityBlock extends TotalsBlock {
  channel: string | null;
  links: LinkRow[];
  variants: VariantRow[];
}

export interface RunBlock extends Figures {
  run: string;
  first_message_at: string | null;
  last_24h: Figures;
}

export interface Report {
  campaign: string;
  run: string | null;
  activity: string | null;
  runs: number;
  now: string;
  windows: { last_24h: { from: string; to: string } };
  include_machine: boolean;
  totals: TotalsBlock;
  activities: Record<string, ActivityBlock>;
  by_run: RunBlock[];
}

export type Period = "all" | "last_24h";

export const PERIODS: { value: Period; label: string }[] = [
  { value: "all", label: "All time" },
  { value: "last_24h", label: "Last 24 hours" },
];

const ZERO: Figures = {
  targeted: 0,
  excluded: {},
  pending: 0,
  sent: 0,
  delivered: 0,
  bounces: { hard: 0, soft: 0 },
  errors: 0,
  opens: { total: 0, unique: 0, machine: 0 },
  clicks: { total: 0, unique: 0, machine: 0 },
  unsubscribes: 0,
  complaints: 0,
  ctr: null,
  ctr_basis: "sent",
  ctor: null,
};

const n = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** The block the sections read: the chosen activity's, else the campaign's totals. */
export function scopeBlock(report: Report, activity: string | null): TotalsBlock {
  return (activity && report.activities?.[activity]) || report.totals;
}

/** The figures of a block over the period. */
export function periodFigures(block: Figures & { last_24h?: Figures }, period: Period): Figures {
  if (period === "last_24h") return { ...ZERO, ...(block.last_24h ?? {}) };
  return { ...ZERO, ...block };
}

/** Activities in scope (the chosen one, or every one), in the report's order. */
function activitiesInScope(report: Report, activity: string | null): [string, ActivityBlock][] {
  const all = Object.entries(report.activities ?? {});
  return activity ? all.filter(([id]) => id === activity) : all;
}

/** A percentage with one decimal (as a number, `18.4`), or null without a divisor. */
export function percent(part: number, whole: number): number | null {
  if (!(whole > 0)) return null;
  return Math.round((part / whole) * 1000) / 10;
}

/** A fraction as a percentage number with one decimal: `0.1843` → `18.4`. */
export function fractionToPercent(fraction: number | null | undefined): number | null {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return null;
  return Math.round(fraction * 1000) / 10;
}

// ---- delivery funnel ----

export type FunnelKind = "main" | "loss";

export interface FunnelStage {
  stage: string;
  label: string;
  kind: FunnelKind;
  count: number;
  /** percentage of the sent messages (one decimal), null for targeted or nothing sent */
  percentOfSent: number | null;
}

/** The stages in their order: the funnel, then what was lost on the way. */
export const FUNNEL: { stage: string; label: string; kind: FunnelKind; count: (f: Figures) => number }[] = [
  { stage: "targeted", label: "Targeted", kind: "main", count: (f) => n(f.targeted) },
  { stage: "sent", label: "Sent", kind: "main", count: (f) => n(f.sent) },
  { stage: "delivered", label: "Delivered", kind: "main", count: (f) => n(f.delivered) },
  { stage: "opened", label: "Opened (unique)", kind: "main", count: (f) => n(f.opens?.unique) },
  { stage: "clicked", label: "Clicked (unique)", kind: "main", count: (f) => n(f.clicks?.unique) },
  { stage: "bounced", label: "Bounced", kind: "loss", count: (f) => n(f.bounces?.hard) + n(f.bounces?.soft) },
  { stage: "unsubscribed", label: "Unsubscribed", kind: "loss", count: (f) => n(f.unsubscribes) },
  { stage: "complained", label: "Complained", kind: "loss", count: (f) => n(f.complaints) },
  { stage: "failed", label: "Failed to send", kind: "loss", count: (f) => n(f.errors) },
];

export function funnelStages(figures: Figures): FunnelStage[] {
  const sent = n(figures.sent);
  return FUNNEL.map(({ stage, label, kind, count }) => {
    const value = count(figures);
    return { stage, label, kind, count: value, percentOfSent: stage === "targeted" ? null : percent(value, sent) };
  });
}

export function funnelTable(stages: FunnelStage[]): Table {
  return {
    columns: ["stage", "count", "percent_of_sent"],
    rows: stages.map((s) => [s.stage, s.count, s.percentOfSent]),
  };
}

/** Nothing planned and nothing sent: an empty state rather than an empty chart. */
export const nothingSent = (figures: Figures) => n(figures.targeted) === 0 && n(figures.sent) === 0;

// ---- exclusions ----

export const EXCLUSION_LABELS: Record<string, string> = {
  no_address: "No address",
  invalid_address: "Invalid address",
  no_consent: "No consent",
  unsubscribed: "Unsubscribed",
  suppressed: "Suppressed (bounce or complaint)",
  frequency_cap: "Frequency cap",
  quiet_hours: "Quiet hours",
  throttle_window: "Throttle window",
};

export const reasonLabel = (reason: string) =>
  EXCLUSION_LABELS[reason] ?? reason.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

export interface ExclusionRow {
  reason: string;
  label: string;
  count: number;
}

/** Reasons in the server's order (spec §5's, then others), zero counts left out. */
export function exclusionRows(excluded: Record<string, number> | null | undefined): ExclusionRow[] {
  return Object.entries(excluded ?? {})
    .filter(([, count]) => n(count) > 0)
    .map(([reason, count]) => ({ reason, label: reasonLabel(reason), count: n(count) }));
}

export function exclusionTable(rows: ExclusionRow[]): Table {
  return { columns: ["reason", "count"], rows: rows.map((r) => [r.reason, r.count]) };
}

// ---- links ----

export interface LinkEntry {
  activity: string;
  link: number | null;
  url: string;
  clicks: number;
  unique: number;
  machine: number;
}

export function linkRows(report: Report, activity: string | null): LinkEntry[] {
  const out: LinkEntry[] = [];
  for (const [id, block] of activitiesInScope(report, activity)) {
    for (const link of block.links ?? []) {
      out.push({
        activity: id,
        link: link.link ?? null,
        url: link.url ?? "(unknown URL)",
        clicks: n(link.clicks),
        unique: n(link.unique),
        machine: n(link.machine),
      });
    }
  }
  return out;
}

export function linkTable(rows: LinkEntry[]): Table {
  return {
    columns: ["activity", "link", "url", "clicks", "unique", "machine"],
    rows: rows.map((r) => [r.activity, r.link, r.url, r.clicks, r.unique, r.machine]),
  };
}

/** The label of a link on the chart: its URL, with its activity when several have links. */
export function linkLabels(rows: LinkEntry[]): string[] {
  const several = new Set(rows.map((r) => r.activity)).size > 1;
  return rows.map((r) => (several ? `${r.activity}: ${r.url}` : r.url));
}

// ---- email domains ----

export const DOMAIN_COLUMNS = [
  "domain",
  "targeted",
  "sent",
  "delivered",
  "bounced",
  "opens",
  "clicks",
  "unsubscribes",
  "complaints",
] as const;

export function domainRows(block: TotalsBlock): DomainRow[] {
  return (block.domains ?? []).map((d) => ({
    domain: d.domain,
    ...(d.domains !== undefined ? { domains: d.domains } : {}),
    targeted: n(d.targeted),
    sent: n(d.sent),
    delivered: n(d.delivered),
    bounced: n(d.bounced),
    opens: n(d.opens),
    clicks: n(d.clicks),
    unsubscribes: n(d.unsubscribes),
    complaints: n(d.complaints),
  }));
}

export function domainTable(rows: DomainRow[]): Table {
  return {
    columns: [...DOMAIN_COLUMNS],
    rows: rows.map((d) => DOMAIN_COLUMNS.map((c) => (c === "domain" ? domainLabel(d) : d[c]))),
  };
}

/** `(other)` says how many domains it adds up. */
export const domainLabel = (d: DomainRow) => (d.domains ? `${d.domain} (${d.domains} domains)` : d.domain);

// ---- A/B variants ----

export interface VariantEntry {
  activity: string;
  variant: string;
  baseline: boolean;
  sent: number;
  delivered: number;
  opens: number;
  clicks: number;
  /** unique clicks over the activity's CTR basis, as a percentage with one decimal */
  clickRate: number | null;
  /** versus the baseline, as a percentage with one decimal */
  lift: number | null;
  pValue: number | null;
  significant: boolean;
  enoughData: boolean | null;
}

export function variantRows(report: Report, activity: string | null): VariantEntry[] {
  const out: VariantEntry[] = [];
  for (const [id, block] of activitiesInScope(report, activity)) {
    for (const v of block.variants ?? []) {
      out.push({
        activity: id,
        variant: v.variant,
        baseline: !!v.baseline,
        sent: n(v.sent),
        delivered: n(v.delivered),
        opens: n(v.opens),
        clicks: n(v.clicks),
        clickRate: fractionToPercent(v.click_rate),
        lift: fractionToPercent(v.lift),
        pValue: v.p_value === null || v.p_value === undefined ? null : Math.round(v.p_value * 10000) / 10000,
        significant: !!v.significant,
        enoughData: v.enough_data ?? null,
      });
    }
  }
  return out;
}

export function variantTable(rows: VariantEntry[]): Table {
  return {
    columns: [
      "activity",
      "variant",
      "baseline",
      "sent",
      "delivered",
      "opens",
      "clicks",
      "click_rate_percent",
      "lift_percent",
      "p_value",
      "significant",
    ],
    rows: rows.map((v) => [
      v.activity,
      v.variant,
      v.baseline,
      v.sent,
      v.delivered,
      v.opens,
      v.clicks,
      v.clickRate,
      v.lift,
      v.pValue,
      v.significant,
    ]),
  };
}

/** What the significance column says, in words. */
export function significanceText(v: VariantEntry): string {
  if (v.baseline) return "baseline";
  if (v.enoughData === false) return "not enough data";
  if (v.pValue === null) return "no difference measurable";
  return v.significant ? "significant" : "not significant";
}

// ---- timeline ----

export interface TimelineSeries {
  unit: TimeUnit;
  /** bucket starts, ms since the epoch, ascending */
  times: number[];
  sent: number[];
  opens: number[];
  clicks: number[];
}

/** More buckets than this are drawn as they come, without filling the gaps. */
export const MAX_FILLED_BUCKETS = 24 * 93;

const floorTo = (ms: number, unit: TimeUnit) => Math.floor(ms / unitMs(unit)) * unitMs(unit);

/**
 * The buckets as series, the empty ones between the first and the last filled with
 * zeros (the report lists only buckets where something happened). With a window
 * (`from`, `to`: the last 24 hours) only its buckets count, and the whole window is
 * filled.
 */
export function timelineSeries(
  buckets: Bucket[] | null | undefined,
  unit: TimeUnit,
  window?: { from: string; to: string } | null,
): TimelineSeries {
  const size = unitMs(unit);
  const byTime = new Map<number, Bucket>();
  let lo = window ? floorTo(Date.parse(window.from), unit) : Number.POSITIVE_INFINITY;
  let hi = window ? floorTo(Date.parse(window.to), unit) : Number.NEGATIVE_INFINITY;
  const windowed = !!window && Number.isFinite(lo) && Number.isFinite(hi);
  for (const bucket of buckets ?? []) {
    const at = Date.parse(bucket.at);
    if (Number.isNaN(at)) continue;
    if (windowed && (at < lo || at > hi)) continue;
    const previous = byTime.get(at);
    byTime.set(
      at,
      previous
        ? { ...previous, sent: previous.sent + n(bucket.sent), opens: previous.opens + n(bucket.opens), clicks: previous.clicks + n(bucket.clicks) }
        : bucket,
    );
    if (!windowed) {
      lo = Math.min(lo, at);
      hi = Math.max(hi, at);
    }
  }
  const out: TimelineSeries = { unit, times: [], sent: [], opens: [], clicks: [] };
  if (!windowed && byTime.size === 0) return out;
  let times: number[];
  if ((hi - lo) / size + 1 <= MAX_FILLED_BUCKETS) {
    times = [];
    for (let t = lo; t <= hi; t += size) times.push(t);
  } else {
    times = [...byTime.keys()].sort((a, b) => a - b);
  }
  for (const t of times) {
    const b = byTime.get(t);
    out.times.push(t);
    out.sent.push(n(b?.sent));
    out.opens.push(n(b?.opens));
    out.clicks.push(n(b?.clicks));
  }
  return out;
}

/** Nothing happened in any bucket. */
export const timelineEmpty = (s: TimelineSeries) =>
  s.times.length === 0 || [...s.sent, ...s.opens, ...s.clicks].every((v) => v === 0);

export function timelineTable(s: TimelineSeries): Table {
  return {
    columns: ["bucket_start_utc", "sent", "opens", "clicks"],
    rows: s.times.map((t, i) => [isoUtc(t), s.sent[i], s.opens[i], s.clicks[i]]),
  };
}

