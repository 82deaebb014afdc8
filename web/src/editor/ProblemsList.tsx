// Every problem of the last save; one that concerns an activity selects it.
import type { Problem } from "../api";
import { describeProblem } from "./problems";

export interface ProblemsListProps {
  problems: readonly Problem[];
  /** activities that exist now (a problem of a removed one cannot select it) */
  activityIds: ReadonlySet<string>;
  onSelect: (activity: string) => void;
  /** whether the list is older than the document (edited since the last save) */
  stale: boolean;
}

export function ProblemsList({ problems, activityIds, onSelect, stale }: ProblemsListProps) {
  return (
    <section className="ov-problems" aria-label="Problems">
      <h2>
        Problems <span className="muted">({problems.length}{stale ? ", as of the last save" : ""})</span>
      </h2>
      {problems.length === 0 ? (
        <p className="muted">No problems{stale ? " at the last save" : ""}.</p>
      ) : (
        <ul>
          {problems.map((p, i) => (
            <li key={i}>
              {p.activity && activityIds.has(p.activity) ? (
                <button type="button" className="ov-problem" onClick={() => onSelect(p.activity!)}>
                  <strong>{p.activity}</strong>: {describeProblem(p)}
                </button>
              ) : (
                <span className="ov-problem">
                  {p.activity && <strong>{p.activity}: </strong>}
                  {describeProblem(p)}
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
