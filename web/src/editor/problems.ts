// The server's problems, sorted for the canvas: per activity (node badges, the
// activity's panel) and those of the campaign as a whole. Pure: unit-tested.
import type { Problem } from "../api";

export interface GroupedProblems {
  byActivity: Map<string, Problem[]>;
  /** the problems that concern no activity */
  general: Problem[];
}

export function groupProblems(problems: readonly Problem[]): GroupedProblems {
  const byActivity = new Map<string, Problem[]>();
  const general: Problem[] = [];
  for (const p of problems) {
    if (p.activity) byActivity.set(p.activity, [...(byActivity.get(p.activity) ?? []), p]);
    else general.push(p);
  }
  return { byActivity, general };
}

/** A problem as one line: its path (when it says more than the activity) and message. */
export function describeProblem(p: Problem): string {
  return p.path && p.path !== p.activity ? `${p.path}: ${p.message}` : p.message;
}

/** Whether a problem is about the inputs of `activity` (its count, a port, a cycle). */
export function isInputsProblem(p: Problem, activity: string): boolean {
  return p.activity === activity && (p.path === `${activity}.inputs` || p.path.startsWith(`${activity}.inputs[`) || p.path.startsWith(`${activity}.inputs.`));
}
