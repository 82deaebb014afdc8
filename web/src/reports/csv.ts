// CSV of a table (RFC 4180): a header row, then one line per row, CRLF line ends.
// Pure, so the Export CSV buttons download exactly the numbers a section shows.

export type Cell = string | number | boolean | null | undefined;

export interface Table {
  columns: string[];
  rows: Cell[][];
}

/** Characters that make a spreadsheet read a text cell as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One cell: numbers as they are (no grouping), null and undefined empty, booleans as
 * `true`/`false`; text quoted when it holds a comma, a quote, a line break or
 * surrounding spaces (quotes doubled), and prefixed with `'` when a spreadsheet would
 * take it for a formula.
 */
export function csvCell(value: Cell): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (typeof value === "boolean") return value ? "true" : "false";
  let text = value;
  if (FORMULA_START.test(text)) text = `'${text}`;
  if (/[",\r\n]/.test(text) || text !== text.trim()) return `"${text.replace(/"/g, '""')}"`;
  return text;
}

export function csvLine(cells: Cell[]): string {
  return cells.map(csvCell).join(",");
}

/** The whole table, header first, every line ended by CRLF. */
export function toCsv(table: Table): string {
  return [table.columns, ...table.rows].map((row) => csvLine(row) + "\r\n").join("");
}

/** `spring-sale-links.csv`, `spring-sale-run-3f2a-mail-funnel.csv`: safe file names. */
export function csvFileName(...parts: (string | null | undefined)[]): string {
  const name = parts
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[._]+|[._]+$/g, ""))
    .filter(Boolean)
    .join("-");
  return `${name || "report"}.csv`;
}
