// Small SVG charts: horizontal bars (grouped when there are several series) and lines
// over time. Each is an image with a summary for screen readers, and its numbers in a
// table that a button shows (the table is in the page for assistive technology even
// while hidden).
import { memo, useId, useState } from "react";
import type { Cell, Table } from "./csv";
import { formatCount } from "../format";
import { linear, niceTicks, timeLabel, timeTicks, truncate, type TimeUnit } from "./scale";

export const PALETTE = ["#2454c5", "#1c7c3c", "#b07800", "#b3261e", "#6b3fa0", "#00838f"];

export interface Series {
  key: string;
  label: string;
  values: number[];
  color?: string;
}

const colorOf = (s: Series, i: number) => s.color ?? PALETTE[i % PALETTE.length];

function cellText(value: Cell): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return formatCount(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  return value;
}

/** The numbers of a chart as a table, hidden until asked for (but read by screen readers). */
export function ChartData({ table, caption }: { table: Table; caption: string }) {
  const [shown, setShown] = useState(false);
  const id = useId();
  return (
    <div className="chart-data">
      <button type="button" className="link-button" aria-expanded={shown} aria-controls={id} onClick={() => setShown(!shown)}>
        {shown ? "Hide the numbers" : "Show the numbers"}
      </button>
      <div id={id} className={shown ? "chart-table" : "sr-only"}>
        <DataTable table={table} caption={caption} />
      </div>
    </div>
  );
}

export function DataTable({ table, caption, className = "grid" }: { table: Table; caption: string; className?: string }) {
  return (
    <table className={className}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          {table.columns.map((c) => (
            <th key={c} scope="col">
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {table.rows.map((row, i) => (
          <tr key={i}>
            {row.map((cell, j) => (
              <td key={j} className={typeof cell === "number" ? "num" : undefined}>
                {cellText(cell)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Legend({ series }: { series: Series[] }) {
  if (series.length < 2) return null;
  return (
    <ul className="chart-legend" aria-hidden="true">
      {series.map((s, i) => (
        <li key={s.key}>
          <span className="chart-swatch" style={{ background: colorOf(s, i) }} /> {s.label}
        </li>
      ))}
    </ul>
  );
}

export interface BarChartProps {
  /** what the chart shows, in a sentence (its accessible name) */
  label: string;
  categories: string[];
  series: Series[];
  table: Table;
  caption: string;
  /** attributes of each category's group of bars (test hooks) */
  groupAttrs?: (index: number) => Record<string, string | undefined>;
  /** the text after a bar (default: the value, formatted) */
  valueText?: (value: number, category: number, series: number) => string;
  /** a class per category (`loss` bars of the funnel) */
  categoryClass?: (index: number) => string | undefined;
  labelChars?: number;
}

const WIDTH = 720;

/** Horizontal bars, one row per category, one bar per series in it. */
export const BarChart = memo(function BarChart({
  label,
  categories,
  series,
  table,
  caption,
  groupAttrs,
  valueText = (v) => formatCount(v),
  categoryClass,
  labelChars = 30,
}: BarChartProps) {
  const labelWidth = Math.min(240, Math.max(90, labelChars * 7 + 10));
  const valueWidth = 110;
  const barHeight = series.length > 1 ? 12 : 20;
  const rowGap = 10;
  const rowHeight = series.length * barHeight + rowGap;
  const top = 22;
  const height = top + categories.length * rowHeight + 4;
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const ticks = niceTicks(max, 5);
  const x = linear([0, ticks[ticks.length - 1]], [labelWidth, WIDTH - valueWidth]);

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" role="img" aria-label={label} className="bar-chart">
        {ticks.map((t) => (
          <g key={t} className="chart-grid">
            <line x1={x(t)} x2={x(t)} y1={top - 4} y2={height - 4} />
            <text x={x(t)} y={top - 8} textAnchor="middle">
              {formatCount(t)}
            </text>
          </g>
        ))}
        {categories.map((category, i) => {
          const y0 = top + i * rowHeight + rowGap / 2;
          return (
            <g key={`${category}-${i}`} className={`chart-row ${categoryClass?.(i) ?? ""}`} {...groupAttrs?.(i)}>
              {category.length > labelChars && <title>{category}</title>}
              <text x={labelWidth - 8} y={y0 + (series.length * barHeight) / 2} textAnchor="end" dominantBaseline="middle" className="chart-label">
                {truncate(category, labelChars)}
              </text>
              {series.map((s, j) => {
                const value = s.values[i] ?? 0;
                const y = y0 + j * barHeight;
                const w = Math.max(0, x(value) - labelWidth);
                return (
                  <g key={s.key}>
                    <rect x={labelWidth} y={y + 1} width={Math.max(w, value > 0 ? 1 : 0)} height={barHeight - 2} fill={colorOf(s, j)} rx={2} />
                    {(series.length === 1 || value > 0) && (
                      <text x={labelWidth + w + 6} y={y + barHeight / 2} dominantBaseline="middle" className="chart-value">
                        {valueText(value, i, j)}
                      </text>
                    )}
                  </g>
                );
              })}
            </g>
          );
        })}
      </svg>
      <Legend series={series} />
      <ChartData table={table} caption={caption} />
    </figure>
  );
});

export interface LineChartProps {
  label: string;
  /** bucket starts, ms, ascending */
  times: number[];
  unit: TimeUnit;
  series: Series[];
  table: Table;
  caption: string;
}

/** Lines over time (buckets in UTC), with points where there are few of them. */
export const LineChart = memo(function LineChart({ label, times, unit, series, table, caption }: LineChartProps) {
  const height = 260;
  const left = 56;
  const right = 20;
  const top = 12;
  const bottom = 36;
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const ticks = niceTicks(max, 5);
  const first = times[0] ?? 0;
  const last = times[times.length - 1] ?? 0;
  const single = times.length < 2;
  const x = single ? () => (left + WIDTH - right) / 2 : linear([first, last], [left, WIDTH - right]);
  const y = linear([0, ticks[ticks.length - 1]], [height - bottom, top]);
  const xTicks = single ? times : timeTicks(first, last, unit, 6);
  const dots = times.length <= 60;

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" role="img" aria-label={label} className="line-chart">
        {ticks.map((t) => (
          <g key={t} className="chart-grid">
            <line x1={left} x2={WIDTH - right} y1={y(t)} y2={y(t)} />
            <text x={left - 6} y={y(t)} textAnchor="end" dominantBaseline="middle">
              {formatCount(t)}
            </text>
          </g>
        ))}
        {xTicks.map((t) => (
          <g key={t} className="chart-axis">
            <line x1={x(t)} x2={x(t)} y1={height - bottom} y2={height - bottom + 4} />
            <text x={x(t)} y={height - bottom + 16} textAnchor="middle">
              {timeLabel(t, unit)}
            </text>
          </g>
        ))}
        <text x={WIDTH - right} y={height - 4} textAnchor="end" className="chart-note">
          UTC
        </text>
        {series.map((s, j) => {
          const points = times.map((t, i) => `${x(t).toFixed(1)},${y(s.values[i] ?? 0).toFixed(1)}`);
          return (
            <g key={s.key} className="chart-series" data-series={s.key}>
              <polyline points={points.join(" ")} fill="none" stroke={colorOf(s, j)} strokeWidth={2} />
              {dots &&
                times.map((t, i) => (
                  <circle key={t} cx={x(t)} cy={y(s.values[i] ?? 0)} r={3} fill={colorOf(s, j)}>
                    <title>{`${s.label}, ${timeLabel(t, unit)}: ${formatCount(s.values[i] ?? 0)}`}</title>
                  </circle>
                ))}
            </g>
          );
        })}
      </svg>
      <Legend series={series} />
      <ChartData table={table} caption={caption} />
    </figure>
  );
});
