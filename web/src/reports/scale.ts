// Scales and ticks of the report's charts. Pure.

/** The nice step (1, 2 or 5 times a power of ten) closest above `rough`. */
export function niceStep(rough: number): number {
  if (!(rough > 0) || !Number.isFinite(rough)) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/**
 * Ticks from 0 to a nice maximum at or above `max`, about `count` of them. Counts are
 * whole numbers, so the step is at least 1 (`integer`, the default).
 */
export function niceTicks(max: number, count = 5, integer = true): number[] {
  const top = Number.isFinite(max) && max > 0 ? max : 0;
  if (top === 0) return [0, 1];
  let step = niceStep(top / Math.max(1, count));
  if (integer) step = Math.max(1, step);
  const end = Math.ceil(top / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= end + step * 1e-9; i++) ticks.push(round(i * step));
  return ticks;
}

const round = (v: number) => Math.round(v * 1e9) / 1e9;

/** A linear map from `domain` to `range`; a domain of zero width maps to the range's start. */
export function linear([d0, d1]: [number, number], [r0, r1]: [number, number]): (v: number) => number {
  const width = d1 - d0;
  if (width === 0) return () => r0;
  return (v) => r0 + ((v - d0) / width) * (r1 - r0);
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export type TimeUnit = "hourly" | "daily";
export const unitMs = (unit: TimeUnit) => (unit === "hourly" ? HOUR_MS : DAY_MS);

/** Steps, in buckets, that make readable ticks: hours 1 2 3 6 12 24 48…, days 1 2 7 14 28… */
const HOUR_STEPS = [1, 2, 3, 6, 12, 24, 48, 96, 168];
const DAY_STEPS = [1, 2, 7, 14, 28, 56, 91, 182, 364];

/** At most `count` ticks on whole buckets between `start` and `end` (ms, inclusive). */
export function timeTicks(start: number, end: number, unit: TimeUnit, count = 6): number[] {
  const size = unitMs(unit);
  if (!(end >= start)) return [];
  const buckets = Math.round((end - start) / size) + 1;
  const steps = unit === "hourly" ? HOUR_STEPS : DAY_STEPS;
  let step = steps.find((s) => Math.ceil(buckets / s) <= count);
  if (step === undefined) step = Math.ceil(buckets / count);
  const ticks: number[] = [];
  for (let t = start; t <= end; t += step * size) ticks.push(t);
  return ticks;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number) => String(n).padStart(2, "0");

/** A bucket's start in UTC (the report's buckets are UTC): `Mar 1` or `Mar 1 09:00`. */
export function timeLabel(ms: number, unit: TimeUnit): string {
  const d = new Date(ms);
  const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  return unit === "daily" ? day : `${day} ${pad(d.getUTCHours())}:00`;
}

/** A bucket's start as the CSV writes it: ISO 8601 in UTC, `2027-03-01T09:00:00Z`. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** Text cut to `max` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}
