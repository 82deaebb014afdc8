import { describe, expect, it } from "vitest";
import type { RunResource } from "../api";
import { documentToCanvas } from "../canvas/convert";
import {
  ACTIVITY_STATUSES,
  cellText,
  countTestId,
  countText,
  detailText,
  edgeCounts,
  isFinished,
  lastLogId,
  mergeLog,
  nodeStateKey,
  pageText,
  portCount,
  rowsPath,
  runActions,
  statusClass,
  statusLabel,
  taskAction,
  taskText,
  totalExcluded,
  waitingKey,
  waitingText,
} from "./runModel";

const document = {
  name: "spring-sale",
  activities: [
    { id: "buyers", type: "build_audience" },
    { id: "tiers", type: "split", inputs: ["buyers"], subsets: [{ id: "vip" }, { id: "sample" }], complement: true },
    { id: "vip_mail", type: "email", inputs: ["tiers.vip"] },
    { id: "rest", type: "end", inputs: ["tiers.complement"] },
    { id: "never", type: "end", inputs: ["tiers.sample"] },
  ],
};

function run(overrides: Partial<RunResource> = {}): RunResource {
  return {
    run: "r1",
    campaign: "spring-sale",
    mode: "test",
    status: "running",
    document,
    activities: {
      buyers: { status: "done", ports: { out: 1234 } },
      tiers: { status: "done", ports: { vip: 120, sample: 111, complement: 1003 } },
      vip_mail: { status: "running", ports: null as unknown as undefined },
      rest: { status: "pending" },
      never: { status: "skipped", ports: null as unknown as undefined },
    },
    ...overrides,
  };
}

describe("counts on transitions", () => {
  it("reads the source's port count", () => {
    expect(portCount(run(), "buyers", "out")).toBe(1234);
    expect(portCount(run(), "tiers", "complement")).toBe(1003);
  });

  it("is unknown for missing activities, null ports and missing ports", () => {
    expect(portCount(run(), "vip_mail", "out")).toBeUndefined();
    expect(portCount(run(), "rest", "out")).toBeUndefined();
    expect(portCount(run(), "nobody", "out")).toBeUndefined();
    expect(portCount(run(), "tiers", "elsewhere")).toBeUndefined();
    expect(portCount(null, "buyers", "out")).toBeUndefined();
  });

  it("gives every edge of the canvas its count", () => {
    const { edges } = documentToCanvas(document);
    const counts = edgeCounts(run(), edges);
    expect(Object.fromEntries(counts)).toEqual({
      "buyers.out->tiers": 1234,
      "tiers.vip->vip_mail": 120,
      "tiers.complement->rest": 1003,
      "tiers.sample->never": 111,
    });
    expect(edges.map(countTestId)).toEqual([
      "count-buyers.out->tiers",
      "count-tiers.vip->vip_mail",
      "count-tiers.complement->rest",
      "count-tiers.sample->never",
    ]);
  });

  it("formats counts with thousands separators, a dash while unknown", () => {
    expect(countText(1234567)).toBe("1,234,567");
    expect(countText(0)).toBe("0");
    expect(countText(undefined)).toBe("—");
  });
});

describe("statuses", () => {
  it("has a label and a class for each status of the legend", () => {
    for (const status of ACTIVITY_STATUSES) {
      expect(statusClass(status)).toBe(`status-${status}`);
      expect(statusLabel(status)).toMatch(/^[A-Z]/);
    }
    expect(statusLabel("done")).toBe("Done");
    expect(statusClass("weird")).toBe("status-other");
    expect(statusLabel("weird")).toBe("Weird");
    expect(statusLabel(undefined)).toBe("Unknown");
  });

  it("knows finished runs", () => {
    expect(isFinished("done")).toBe(true);
    expect(isFinished("failed")).toBe(true);
    expect(isFinished("stopped")).toBe(true);
    expect(isFinished("waiting")).toBe(false);
    expect(isFinished("paused")).toBe(false);
    expect(isFinished(undefined)).toBe(false);
  });
});

describe("what an activity waits for", () => {
  it("says it in words", () => {
    expect(waitingText({ status: "waiting", waiting_for: "confirmation" })).toMatch(/confirm/);
    expect(waitingText({ status: "waiting", waiting_for: "breakpoint" })).toMatch(/breakpoint/);
    expect(waitingText({ status: "waiting", waiting_for: "timer", wake_at: "2027-03-01T09:00:00+00:00" })).toMatch(
      /^Waiting until .*2027/,
    );
    expect(waitingText({ status: "waiting", waiting_for: "errors" })).toMatch(/too many errors/);
    expect(waitingText({ status: "waiting", waiting_for: "something" })).toBe("Waiting for something");
    expect(waitingText({ status: "done" })).toBeNull();
  });

  it("details failures and waits only", () => {
    expect(detailText({ status: "failed", error: "no such table" })).toBe("no such table");
    expect(detailText({ status: "failed" })).toBe("Failed");
    expect(detailText({ status: "waiting", waiting_for: "breakpoint" })).toMatch(/breakpoint/);
    expect(detailText({ status: "done", error: "ignored" })).toBeNull();
    expect(detailText(undefined)).toBeNull();
  });

  it("adds up exclusions", () => {
    expect(totalExcluded({ status: "done", excluded: { no_consent: 2, no_address: 1 } })).toBe(3);
    expect(totalExcluded({ status: "done" })).toBeNull();
  });

  it("keys node states by what they show", () => {
    const a = nodeStateKey({ status: "running" });
    expect(nodeStateKey({ status: "running", ports: { out: 3 } })).toBe(a);
    expect(nodeStateKey({ status: "done" })).not.toBe(a);
  });
});

describe("run actions", () => {
  it("shows nothing to those below approver", () => {
    expect(runActions(run(), false)).toEqual({ pause: false, resume: false, stop: false });
  });

  it("follows the run's status", () => {
    expect(runActions(run({ status: "running" }), true)).toEqual({ pause: true, resume: false, stop: true });
    expect(runActions(run({ status: "paused" }), true)).toEqual({ pause: false, resume: true, stop: true });
    expect(runActions(run({ status: "failed" }), true)).toEqual({ pause: false, resume: true, stop: false });
    expect(runActions(run({ status: "done" }), true)).toEqual({ pause: false, resume: false, stop: false });
    expect(runActions(run({ status: "stopped" }), true)).toEqual({ pause: false, resume: false, stop: false });
  });

  it("offers resume to a run waiting on a paused channel, not on a confirmation", () => {
    const confirming = run({ status: "waiting", activities: { m: { status: "waiting", waiting_for: "confirmation" } } });
    expect(runActions(confirming, true).resume).toBe(false);
    const paused = run({ status: "waiting", activities: { m: { status: "waiting", waiting_for: "errors" } } });
    expect(runActions(paused, true)).toEqual({ pause: true, resume: true, stop: true });
  });
});

describe("tasks", () => {
  it("gives confirmations and breakpoints their button", () => {
    expect(taskAction("confirmation")).toEqual({ label: "Confirm sending", action: "confirm", role: "approver" });
    expect(taskAction("breakpoint")).toEqual({ label: "Continue", action: "continue", role: "manager" });
    expect(taskAction("timer")).toBeNull();
  });

  it("says what a task waits for, without repeating a timer's message", () => {
    const task = { run: "r", activity: "m", kind: "confirmation", wake_at: null, message: "m waiting for an approver" };
    expect(taskText(task)).toEqual({ text: "Waiting for an approver to confirm sending", message: "m waiting for an approver" });
    const timer = { ...task, kind: "timer", wake_at: "2027-03-04T08:00:00+00:00", message: "waiting until 2027-03-04" };
    expect(taskText(timer).text).toMatch(/^Waiting until .*2027/);
    expect(taskText(timer).message).toBeNull();
  });

  it("keys the waiting activities", () => {
    expect(waitingKey(run())).toBe("");
    const waiting = run({ activities: { m: { status: "waiting", waiting_for: "confirmation" }, n: { status: "done" } } });
    expect(waitingKey(waiting)).toBe("m:confirmation");
  });
});

describe("log", () => {
  it("merges new entries by id, in order, without duplicates", () => {
    const first = mergeLog([], [{ id: 1, message: "a" }, { id: 2, message: "b" }]);
    expect(lastLogId(first)).toBe(2);
    const again = mergeLog(first, [{ id: 2, message: "b" }, { id: 3, message: "c" }]);
    expect(again.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(mergeLog(again, [])).toBe(again);
    expect(mergeLog(again, [{ id: 3 }])).toBe(again);
    expect(lastLogId([])).toBe(0);
  });
});

describe("rows preview", () => {
  it("builds the path and the page text", () => {
    expect(rowsPath("r 1", "tiers", "vip", 50, 50)).toBe(
      "/api/runs/r%201/activities/tiers/ports/vip/rows?offset=50&limit=50",
    );
    expect(pageText(0, 50, 1234)).toBe("rows 1–50 of 1,234");
    expect(pageText(1200, 34, 1234)).toBe("rows 1,201–1,234 of 1,234");
    expect(pageText(0, 3, null)).toBe("rows 1–3");
    expect(pageText(0, 0, 0)).toBe("no rows");
  });

  it("shows cells as text", () => {
    expect(cellText(null)).toBe("");
    expect(cellText(12)).toBe("12");
    expect(cellText({ a: 1 })).toBe('{"a":1}');
  });
});
