// The fields a rule may name (spec §3): a table's columns, plus the columns of the
// tables its one-cardinality links reach, written with dots (`store.region`).

import { useEffect, useState } from "react";
import { cached, errorMessage, formsApi, type ColumnsResponse, type LinkInfo } from "./api";

export interface FieldInfo {
  /** as written in a rule: `country`, `store.region` */
  name: string;
  type: string;
  /** the table and column it reads, for the value picker */
  table: string;
  column: string;
}

export interface FieldCatalog {
  table: string | null;
  fields: FieldInfo[];
  links: LinkInfo[];
  error: string | null;
  loading: boolean;
}

const columnsOf = (table: string) => cached(`columns:${table}`, () => formsApi.columns(table));

/** The fields of a table and of its one-links, from the catalog's answers (pure). */
export function fieldsOf(own: ColumnsResponse, linked: Record<string, ColumnsResponse | undefined>): FieldInfo[] {
  const out: FieldInfo[] = own.columns.map((c) => ({ name: c.name, type: c.type, table: own.table, column: c.name }));
  for (const link of own.links) {
    if (link.cardinality !== "one") continue;
    const other = linked[link.table];
    if (!other) continue;
    for (const c of other.columns) out.push({ name: `${link.name}.${c.name}`, type: c.type, table: other.table, column: c.name });
  }
  return out;
}

/** The field a rule names, by its written name (`work.` and `TABLE.` prefixes allowed). */
export function findField(fields: FieldInfo[], table: string | null, name: string): FieldInfo | undefined {
  const exact = fields.find((f) => f.name === name);
  if (exact) return exact;
  for (const prefix of ["work.", table ? `${table}.` : null]) {
    if (prefix && name.startsWith(prefix)) {
      const rest = name.slice(prefix.length);
      const found = fields.find((f) => f.name === rest);
      if (found) return found;
    }
  }
  return undefined;
}

export function useFieldCatalog(table: string | null | undefined): FieldCatalog {
  const [state, setState] = useState<FieldCatalog>({ table: table ?? null, fields: [], links: [], error: null, loading: !!table });
  useEffect(() => {
    if (!table) {
      setState({ table: null, fields: [], links: [], error: null, loading: false });
      return;
    }
    let live = true;
    setState((s) => ({ ...s, table, loading: true, error: null }));
    (async () => {
      const own = await columnsOf(table);
      const linked: Record<string, ColumnsResponse | undefined> = {};
      await Promise.all(
        own.links
          .filter((l) => l.cardinality === "one")
          .map(async (l) => {
            try {
              linked[l.table] = await columnsOf(l.table);
            } catch {
              linked[l.table] = undefined; // a link to a table not loaded: its fields are unknown
            }
          }),
      );
      return { own, linked };
    })().then(
      ({ own, linked }) => live && setState({ table, fields: fieldsOf(own, linked), links: own.links, error: null, loading: false }),
      (e) => live && setState({ table, fields: [], links: [], error: errorMessage(e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [table]);
  return state.table === (table ?? null) ? state : { table: table ?? null, fields: [], links: [], error: null, loading: !!table };
}
