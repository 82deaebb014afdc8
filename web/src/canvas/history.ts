// Undo and redo over snapshots (the campaign document, never mutated). Pure: every
// function returns a new history. Consecutive records that carry the same
// coalescing key (typing in one field, one drag) replace the present instead of
// adding a step; anything else (an undo, a redo, a record without key, a call to
// `seal`) ends the run of coalescing.

export interface History<T> {
  past: T[];
  present: T;
  future: T[];
  /** the key of the step that made `present`, while it may still grow */
  openKey: string | null;
}

export const HISTORY_LIMIT = 200;

export function createHistory<T>(present: T): History<T> {
  return { past: [], present, future: [], openKey: null };
}

/**
 * Record `next` as the new present. With a `key` equal to the open key, the last
 * step grows (the past is unchanged). Recording the present itself changes nothing.
 */
export function record<T>(history: History<T>, next: T, key: string | null = null, limit = HISTORY_LIMIT): History<T> {
  if (next === history.present) return history;
  if (key !== null && key === history.openKey && history.past.length > 0) {
    return { past: history.past, present: next, future: [], openKey: key };
  }
  const past = [...history.past, history.present];
  if (past.length > limit) past.splice(0, past.length - limit);
  return { past, present: next, future: [], openKey: key };
}

/** Close the open step: the next record is a step of its own, whatever its key. */
export function seal<T>(history: History<T>): History<T> {
  return history.openKey === null ? history : { ...history, openKey: null };
}

export const canUndo = (history: History<unknown>): boolean => history.past.length > 0;
export const canRedo = (history: History<unknown>): boolean => history.future.length > 0;

export function undo<T>(history: History<T>): History<T> {
  if (!canUndo(history)) return seal(history);
  const past = history.past.slice(0, -1);
  return { past, present: history.past[history.past.length - 1], future: [history.present, ...history.future], openKey: null };
}

export function redo<T>(history: History<T>): History<T> {
  if (!canRedo(history)) return seal(history);
  const [present, ...future] = history.future;
  return { past: [...history.past, history.present], present, future, openKey: null };
}
