import { describe, expect, it } from "vitest";
import type { CampaignDocument } from "../canvas/convert";
import { addActivity, removeActivities, setPositions } from "../canvas/edit";
import { editorReducer, initialState, isDirty, present } from "./state";

const doc: CampaignDocument = {
  name: "c",
  activities: [
    { id: "a", type: "build_audience" },
    { id: "b", type: "end", inputs: ["a"] },
  ],
};

describe("editor state", () => {
  it("records edits, undoes and redoes them, and tells unsaved changes", () => {
    let s = initialState(doc);
    expect(isDirty(s)).toBe(false);
    s = editorReducer(s, { type: "edit", edit: (d) => setPositions(d, { a: { x: 1, y: 1 } }) });
    expect(isDirty(s)).toBe(true);
    s = editorReducer(s, { type: "undo" });
    expect(present(s)).toBe(doc);
    expect(isDirty(s)).toBe(false);
    s = editorReducer(s, { type: "redo" });
    expect(present(s).canvas!.positions!.a).toEqual({ x: 1, y: 1 });
    s = editorReducer(s, { type: "saved", doc: present(s) });
    expect(isDirty(s)).toBe(false);
  });

  it("is not dirty when the document equals the saved one", () => {
    const s = editorReducer(initialState(doc), { type: "edit", edit: (d) => ({ ...d }) });
    expect(isDirty(s)).toBe(false);
  });

  it("selects what an edit asks for and drops what is gone", () => {
    let s = initialState(doc);
    s = editorReducer(s, {
      type: "edit",
      edit: (d) => ({ doc: addActivity(d, { id: "w", type: "wait" }, { x: 0, y: 0 }), select: ["w"] }),
    });
    expect(s.selection.nodes).toEqual(["w"]);
    s = editorReducer(s, { type: "select", nodes: ["a", "w"], edges: ["a.out->b"] });
    s = editorReducer(s, { type: "edit", edit: (d) => removeActivities(d, ["w"]) });
    expect(s.selection).toEqual({ nodes: ["a"], edges: ["a.out->b"] });
    s = editorReducer(s, { type: "edit", edit: (d) => removeActivities(d, ["b"]) });
    expect(s.selection).toEqual({ nodes: ["a"], edges: [] });
    s = editorReducer(s, { type: "undo" });
    expect(s.selection.nodes).toEqual(["a"]);
  });

  it("coalesces keyed edits until the selection changes", () => {
    const label = (text: string) => (d: CampaignDocument) => ({ ...d, label: text });
    let s = initialState(doc);
    s = editorReducer(s, { type: "edit", edit: label("H"), key: "campaign:label" });
    s = editorReducer(s, { type: "edit", edit: label("Hi"), key: "campaign:label" });
    expect(s.history.past).toHaveLength(1);
    s = editorReducer(s, { type: "select", nodes: ["a"] });
    s = editorReducer(s, { type: "edit", edit: label("Hi!"), key: "campaign:label" });
    expect(s.history.past).toHaveLength(2);
    expect(editorReducer(s, { type: "select", nodes: ["a"] })).toBe(s);
    s = editorReducer(s, { type: "seal" });
    s = editorReducer(s, { type: "edit", edit: label("Hi!!"), key: "campaign:label" });
    expect(s.history.past).toHaveLength(3);
    expect(editorReducer(editorReducer(s, { type: "seal" }), { type: "seal" }).history.openKey).toBeNull();
  });

  it("applies xyflow's selection changes", () => {
    let s = initialState(doc);
    s = editorReducer(s, { type: "selectChanges", nodes: [{ id: "a", selected: true }, { id: "b", selected: true }] });
    s = editorReducer(s, { type: "selectChanges", nodes: [{ id: "a", selected: false }], edges: [{ id: "a.out->b", selected: true }] });
    expect(s.selection).toEqual({ nodes: ["b"], edges: ["a.out->b"] });
    expect(editorReducer(s, { type: "selectChanges", nodes: [{ id: "b", selected: true }] })).toBe(s);
  });

  it("loads a document afresh", () => {
    let s = editorReducer(initialState(doc), { type: "edit", edit: (d) => ({ ...d, label: "x" }) });
    const other = { name: "c", activities: [] };
    s = editorReducer(s, { type: "load", doc: other });
    expect(present(s)).toBe(other);
    expect(s.history.past).toHaveLength(0);
    expect(isDirty(s)).toBe(false);
  });
});
