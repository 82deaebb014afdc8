import { describe, expect, it } from "vitest";
import { HISTORY_LIMIT, canRedo, canUndo, createHistory, record, redo, seal, undo } from "./history";

describe("history", () => {
  it("undoes and redoes snapshots", () => {
    let h = createHistory("a");
    h = record(h, "b");
    h = record(h, "c");
    expect(h.present).toBe("c");
    h = undo(h);
    expect(h.present).toBe("b");
    h = undo(h);
    expect(h.present).toBe("a");
    expect(canUndo(h)).toBe(false);
    h = undo(h);
    expect(h.present).toBe("a");
    h = redo(h);
    h = redo(h);
    expect(h.present).toBe("c");
    expect(canRedo(h)).toBe(false);
  });

  it("drops the redo branch on a new record", () => {
    let h = record(record(createHistory(1), 2), 3);
    h = undo(h);
    h = record(h, 4);
    expect(h.present).toBe(4);
    expect(canRedo(h)).toBe(false);
    expect(undo(h).present).toBe(2);
  });

  it("ignores recording the present", () => {
    const h = record(createHistory("a"), "b");
    expect(record(h, h.present)).toBe(h);
  });

  it("coalesces records with the same key into one step", () => {
    let h = record(createHistory(""), "x"); // a step of its own
    h = record(h, "h", "label");
    h = record(h, "he", "label");
    h = record(h, "hel", "label");
    expect(h.past).toEqual(["", "x"]);
    expect(undo(h).present).toBe("x");
  });

  it("starts a new step on another key, no key, after seal, undo or redo", () => {
    let h = record(createHistory(0), 1, "a");
    h = record(h, 2, "b");
    expect(h.past).toEqual([0, 1]);
    h = record(h, 3);
    h = record(h, 4);
    expect(h.past).toEqual([0, 1, 2, 3]);
    h = record(h, 5, "c");
    h = seal(h);
    h = record(h, 6, "c");
    expect(h.past).toEqual([0, 1, 2, 3, 4, 5]);
    h = undo(h);
    h = record(h, 7, "c");
    expect(h.past).toEqual([0, 1, 2, 3, 4, 5]);
    h = redo(undo(record(h, 8, "d")));
    h = record(h, 9, "d");
    expect(h.past).toEqual([0, 1, 2, 3, 4, 5, 7, 8]);
  });

  it("never coalesces into the very first state", () => {
    let h = createHistory("start");
    h = { ...h, openKey: "k" };
    h = record(h, "next", "k");
    expect(h.past).toEqual(["start"]);
  });

  it("keeps at most the limit of steps", () => {
    let h = createHistory(0);
    for (let i = 1; i <= HISTORY_LIMIT + 10; i++) h = record(h, i);
    expect(h.past).toHaveLength(HISTORY_LIMIT);
    expect(h.past[0]).toBe(10);
  });
});
