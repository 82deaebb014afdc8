// The editor's state: the document's undo history, the last saved document (to
// tell unsaved changes) and the selection. A pure reducer: every edit is a pure
// function of the present document, so undo, redo and React's double calls in
// strict mode are all safe. Unit-tested.
import { documentToCanvas, type CampaignDocument } from "../canvas/convert";
import { createHistory, record, redo, seal, undo, type History } from "../canvas/history";

export interface Selection {
  nodes: string[];
  edges: string[];
}

export interface SelectChange {
  id: string;
  selected: boolean;
}

function applySelect(list: string[], changes: SelectChange[] | undefined): string[] {
  if (!changes?.length) return list;
  const set = new Set(list);
  for (const c of changes) {
    if (c.selected) set.add(c.id);
    else set.delete(c.id);
  }
  return [...set];
}

export interface EditorState {
  history: History<CampaignDocument>;
  /** the document as the server has it (after the last load or save) */
  saved: CampaignDocument;
  selection: Selection;
}

/** What an edit gives back: a document, or a document and the activities to select. */
export type EditResult = CampaignDocument | { doc: CampaignDocument; select: string[] };
export type Edit = (doc: CampaignDocument) => EditResult;

export type EditorAction =
  | { type: "load"; doc: CampaignDocument; saved?: CampaignDocument }
  /** `key`: consecutive edits with the same key are one undo step */
  | { type: "edit"; edit: Edit; key?: string | null }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "select"; nodes?: string[]; edges?: string[] }
  /** selection changes as xyflow reports them (clicks, Shift-clicks, box selection) */
  | { type: "selectChanges"; nodes?: SelectChange[]; edges?: SelectChange[] }
  | { type: "saved"; doc: CampaignDocument }
  /** end the open undo step (a field was left, or Enter pressed in it) */
  | { type: "seal" };

const NOTHING: Selection = { nodes: [], edges: [] };

export function initialState(doc: CampaignDocument, saved: CampaignDocument = doc): EditorState {
  return { history: createHistory(doc), saved, selection: NOTHING };
}

const isResult = (r: EditResult): r is { doc: CampaignDocument; select: string[] } =>
  "select" in r && Array.isArray((r as { select?: unknown }).select) && "doc" in r;

/** The selection without what no longer exists. */
function prune(selection: Selection, doc: CampaignDocument): Selection {
  const ids = new Set((doc.activities ?? []).map((a) => a.id));
  const nodes = selection.nodes.filter((id) => ids.has(id));
  const edgeIds = selection.edges.length ? new Set(documentToCanvas(doc).edges.map((e) => e.id)) : null;
  const edges = selection.edges.filter((id) => edgeIds?.has(id));
  return nodes.length === selection.nodes.length && edges.length === selection.edges.length
    ? selection
    : { nodes, edges };
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function editorReducer(state: EditorState, action: EditorAction): EditorState {
  switch (action.type) {
    case "load":
      return initialState(action.doc, action.saved ?? action.doc);
    case "edit": {
      const result = action.edit(state.history.present);
      const doc = isResult(result) ? result.doc : result;
      const history = record(state.history, doc, action.key ?? null);
      const selection = isResult(result) ? { nodes: result.select, edges: [] } : prune(state.selection, doc);
      if (history === state.history && selection === state.selection) return state;
      return { ...state, history, selection };
    }
    case "undo":
    case "redo": {
      const history = action.type === "undo" ? undo(state.history) : redo(state.history);
      return { ...state, history, selection: prune(state.selection, history.present) };
    }
    case "select": {
      const nodes = action.nodes ?? state.selection.nodes;
      const edges = action.edges ?? state.selection.edges;
      if (sameList(nodes, state.selection.nodes) && sameList(edges, state.selection.edges)) return state;
      // a new selection ends the typing in the previous one
      return { ...state, history: seal(state.history), selection: { nodes, edges } };
    }
    case "selectChanges":
      return editorReducer(state, {
        type: "select",
        nodes: applySelect(state.selection.nodes, action.nodes),
        edges: applySelect(state.selection.edges, action.edges),
      });
    case "saved":
      return { ...state, saved: action.doc, history: seal(state.history) };
    case "seal": {
      const history = seal(state.history);
      return history === state.history ? state : { ...state, history };
    }
  }
}

export const present = (state: EditorState): CampaignDocument => state.history.present;

/** Whether the present document differs from the saved one. */
export function isDirty(state: EditorState): boolean {
  const now = state.history.present;
  if (now === state.saved) return false;
  return JSON.stringify(now) !== JSON.stringify(state.saved);
}
