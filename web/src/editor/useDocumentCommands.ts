// The editor's commands on the document: add, insert, delete, copy, paste, edit
// an activity or the campaign, tidy up. Each is one editor action (one undo step,
// or a coalesced one for typing), computed by the pure edits of ../canvas/edit.
import { useCallback, useMemo, type Dispatch, type RefObject } from "react";
import { documentToCanvas, type Activity, type CampaignDocument, type Position } from "../canvas/convert";
import { changedPath } from "../canvas/diff";
import {
  addActivity,
  copyActivities,
  freeSpot,
  idProblem,
  insertBetween,
  pasteFragment,
  positionsOf,
  removeActivities,
  removeInput,
  setInputs,
  updateActivity,
  type Fragment,
} from "../canvas/edit";
import { tidyUp } from "../canvas/layout";
import { newActivity, takenIds } from "../canvas/palette";
import type { PendingInsert } from "./Palette";
import type { EditorAction, EditorState } from "./state";

const PASTE_OFFSET = 40;

/** What Ctrl/Cmd+C copied: kept across campaigns, so activities can be pasted into another. */
const clipboard: { fragment: Fragment | null; pastes: number } = { fragment: null, pastes: 0 };

const campaignFields = (doc: CampaignDocument) => {
  const { activities: _a, canvas: _c, ...rest } = doc;
  return rest;
};

export function useDocumentCommands(
  stateRef: RefObject<EditorState>,
  dispatch: Dispatch<EditorAction>,
  report: (error: string | null) => void,
) {
  /** Add an activity at `position`, or at a free spot (right of the selected one). */
  const addAt = useCallback(
    (type: string, position?: Position) => {
      const selected = stateRef.current.selection.nodes;
      dispatch({
        type: "edit",
        edit: (d) => {
          const activity = newActivity(type, takenIds(d));
          const near = selected.length === 1 ? positionsOf(d)[selected[0]] : undefined;
          return { doc: addActivity(d, activity, position ?? freeSpot(d, near)), select: [activity.id] };
        },
      });
    },
    [dispatch, stateRef],
  );

  const insertOn = useCallback(
    ({ ref, target }: PendingInsert, type: string) =>
      dispatch({
        type: "edit",
        edit: (d) => {
          const activity = newActivity(type, takenIds(d));
          return { doc: insertBetween(d, ref, target, activity), select: [activity.id] };
        },
      }),
    [dispatch],
  );

  const removeSelection = useCallback(() => {
    const { nodes, edges } = stateRef.current.selection;
    if (!nodes.length && !edges.length) return;
    dispatch({
      type: "edit",
      edit: (d) => {
        let out = d;
        if (edges.length) {
          const byId = new Map(documentToCanvas(d).edges.map((e) => [e.id, e]));
          for (const id of edges) {
            const edge = byId.get(id);
            if (edge) out = removeInput(out, edge.target, edge.data.ref);
          }
        }
        return removeActivities(out, nodes);
      },
    });
  }, [dispatch, stateRef]);

  const copy = useCallback(() => {
    const { history, selection } = stateRef.current;
    if (!selection.nodes.length) return;
    clipboard.fragment = copyActivities(history.present, selection.nodes);
    clipboard.pastes = 0;
  }, [stateRef]);

  const paste = useCallback(() => {
    const fragment = clipboard.fragment;
    if (!fragment) return;
    const n = ++clipboard.pastes;
    dispatch({
      type: "edit",
      edit: (d) => {
        const { doc, ids } = pasteFragment(d, fragment, { x: n * PASTE_OFFSET, y: n * PASTE_OFFSET });
        return { doc, select: ids };
      },
    });
  }, [dispatch]);

  /** A settings form changed an activity: typing in one field is one undo step. */
  const changeActivity = useCallback(
    (id: string, next: Activity) => {
      const doc = stateRef.current.history.present;
      const index = (doc.activities ?? []).findIndex((a) => a.id === id);
      if (index < 0) return;
      if (next.id !== id) {
        const problem = idProblem(doc, next.id, id);
        if (problem) {
          report(`Cannot rename ${id}: ${problem}.`);
          return;
        }
      }
      const key = `activity#${index}:${changedPath(doc.activities![index], next) ?? ""}`;
      dispatch({
        type: "edit",
        key,
        edit: (d) => {
          const result = updateActivity(d, id, next);
          if (result.error) return d;
          return next.id !== id ? { doc: result.doc, select: [next.id] } : result.doc;
        },
      });
    },
    [dispatch, report, stateRef],
  );

  const changeInputs = useCallback(
    (id: string, inputs: string[]) => dispatch({ type: "edit", edit: (d) => setInputs(d, id, inputs) }),
    [dispatch],
  );

  /** The campaign form changed campaign-level fields; activities and canvas stay ours. */
  const changeCampaign = useCallback(
    (next: CampaignDocument) => {
      const doc = stateRef.current.history.present;
      const key = `campaign:${changedPath(campaignFields(doc), campaignFields(next)) ?? ""}`;
      dispatch({
        type: "edit",
        key,
        edit: (d) => {
          const out: CampaignDocument = {};
          for (const [k, v] of Object.entries(next)) {
            if (k === "activities" || k === "canvas") {
              if (k in d) (out as Record<string, unknown>)[k] = d[k];
            } else out[k] = v;
          }
          if (d.activities && !("activities" in out)) out.activities = d.activities;
          if (d.canvas && !("canvas" in out)) out.canvas = d.canvas;
          return out;
        },
      });
    },
    [dispatch, stateRef],
  );

  const tidy = useCallback(() => dispatch({ type: "edit", edit: tidyUp }), [dispatch]);
  const replaceDocument = useCallback((doc: CampaignDocument) => dispatch({ type: "edit", edit: () => doc }), [dispatch]);

  return useMemo(
    () => ({ addAt, insertOn, removeSelection, copy, paste, changeActivity, changeInputs, changeCampaign, tidy, replaceDocument }),
    [addAt, insertOn, removeSelection, copy, paste, changeActivity, changeInputs, changeCampaign, tidy, replaceDocument],
  );
}
