import { describe, expect, it } from "vitest";
import {
  formatList,
  hourlyByHours,
  parseIntegers,
  scheduleKind,
  switchKind,
  toLocalInput,
  toggleDay,
  toggleMonth,
} from "./schedule";

describe("schedule kinds", () => {
  it("finds the kind", () => {
    expect(scheduleKind({ once: "2027-03-01T09:00" })).toBe("once");
    expect(scheduleKind({ start: "2027-01-01", weekly: { days: ["mon"], at: "09:00" } })).toBe("weekly");
    expect(scheduleKind({ start: "2027-01-01" })).toBeNull();
    expect(scheduleKind(undefined)).toBeNull();
  });

  it("switches kind in place, keeping the window and unknown keys", () => {
    const next = switchKind({ start: "2027-01-01", once: "2027-03-01T09:00", end: "2027-12-31" }, "weekly");
    expect(JSON.stringify(next)).toBe('{"start":"2027-01-01","weekly":{"days":["mon"],"at":"09:00"},"end":"2027-12-31"}');
    expect(switchKind({ start: "2027-01-01" }, "cron")).toEqual({ cron: "0 9 * * *", start: "2027-01-01" });
    expect(switchKind(undefined, "signal")).toEqual({ signal: {} });
    expect(switchKind({ once: "x" }, null)).toBeUndefined();
    const same = { daily: { at: "10:00" } };
    expect(switchKind(same, "daily")).toBe(same);
  });

  it("leaves one kind when a document had two", () => {
    expect(switchKind({ once: "x", cron: "y" }, "daily")).toEqual({ daily: { at: "09:00" } });
  });
});

describe("schedule values", () => {
  it("reads hours", () => {
    expect(parseIntegers("9, 13,17")).toEqual([9, 13, 17]);
    expect(parseIntegers("9 x")).toEqual([9, "x"]);
    expect(parseIntegers("")).toEqual([]);
    expect(formatList([9, 13])).toBe("9, 13");
  });
  it("keeps days in the week's order", () => {
    expect(toggleDay(["thu"], "mon", true)).toEqual(["mon", "thu"]);
    expect(toggleDay(["mon", "thu"], "mon", false)).toEqual(["thu"]);
    expect(toggleMonth([7, 1], 4, true)).toEqual([1, 4, 7]);
  });
  it("shows once as a datetime-local value", () => {
    expect(toLocalInput("2027-03-01T09:00")).toBe("2027-03-01T09:00");
    expect(toLocalInput("2027-03-01 09:00:30")).toBe("2027-03-01T09:00:30");
    expect(toLocalInput("soon")).toBe("");
  });
  it("tells the two hourly forms apart", () => {
    expect(hourlyByHours({ hours: [9], minute: 0 })).toBe(true);
    expect(hourlyByHours({ every: "2h" })).toBe(false);
  });
});
