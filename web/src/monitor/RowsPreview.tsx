// A page of the rows that went through a transition, with its total.
import { useEffect, useRef, useState } from "react";
import { ApiError } from "../api";
import { formatCount } from "../format";
import { runsApi, type RowsPage } from "./runApi";
import { cellText, pageText, transitionName } from "./runModel";
import type { Transition } from "./RunCanvas";

const PAGE = 50;

export function RowsPreview({ run, transition, onClose }: { run: string; transition: Transition; onClose: () => void }) {
  const { source, port } = transition;
  const name = transitionName(source, port);
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<RowsPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    heading.current?.focus();
  }, [name]);

  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    setError(null);
    runsApi
      .rows(run, source, port, offset, PAGE)
      .then((p) => {
        if (!cancelled) setPage(p);
      })
      .catch((e: unknown) => {
        if (cancelled) return;
        setPage(null);
        setError(e instanceof ApiError ? e.message : String(e));
      })
      .finally(() => {
        if (!cancelled) setLoading(false);
      });
    return () => {
      cancelled = true;
    };
  }, [run, source, port, offset]);

  const total = page?.total ?? null;
  const shown = page?.rows.length ?? 0;
  const hasNext = page !== null && (total !== null ? offset + shown < total : shown === PAGE);

  return (
    <section
      className="rows-preview card"
      aria-label={`Rows on ${name}`}
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      <div className="rows-preview-head">
        <h2 ref={heading} tabIndex={-1}>
          Rows on <code>{name}</code>
          {total !== null && <span className="muted"> ({formatCount(total)} in all)</span>}
        </h2>
        <button type="button" onClick={onClose} aria-label="Close the preview">
          Close
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {loading && !page && !error && <p>Loading…</p>}
      {page && (
        <>
          <div className="toolbar">
            <button type="button" disabled={offset === 0 || loading} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Previous
            </button>
            <button type="button" disabled={!hasNext || loading} onClick={() => setOffset(offset + PAGE)}>
              Next
            </button>
            <span aria-live="polite">{pageText(offset, shown, total)}</span>
          </div>
          {shown === 0 ? (
            <p>No rows went through this transition.</p>
          ) : (
            <div className="rows-scroll">
              <table className="grid">
                <thead>
                  <tr>
                    {page.columns.map((c) => (
                      <th key={c} scope="col">
                        {c}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {page.rows.map((row, i) => (
                    <tr key={offset + i}>
                      {page.columns.map((c) => (
                        <td key={c}>{cellText(row[c])}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
