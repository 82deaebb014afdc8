import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS, isoUtc, linear, niceStep, niceTicks, timeLabel, timeTicks, truncate } from "./scale";

describe("niceStep", () => {
  it("rounds up to 1, 2 or 5 times a power of ten", () => {
    expect(niceStep(0.7)).toBe(1);
    expect(niceStep(1)).toBe(1);
    expect(niceStep(1.5)).toBe(2);
    expect(niceStep(3)).toBe(5);
    expect(niceStep(7)).toBe(10);
    expect(niceStep(230)).toBe(500);
    expect(niceStep(0)).toBe(1);
  });
});

describe("niceTicks", () => {
  it("covers the maximum from zero", () => {
    expect(niceTicks(10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(1150)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(1234, 4)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(97)).toEqual([0, 20, 40, 60, 80, 100]);
  });

  it("keeps whole steps for counts", () => {
    expect(niceTicks(3)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(1)).toEqual([0, 1]);
    expect(niceTicks(0.5, 5, false)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5]);
  });

  it("has a scale when everything is zero", () => {
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(Number.NaN)).toEqual([0, 1]);
  });
});

describe("linear", () => {
  it("maps a domain onto a range", () => {
    const y = linear([0, 100], [200, 0]);
    expect(y(0)).toBe(200);
    expect(y(50)).toBe(100);
    expect(y(100)).toBe(0);
    expect(linear([5, 5], [10, 20])(5)).toBe(10);
  });
});

describe("time", () => {
  const start = Date.UTC(2027, 2, 1, 0);
  it("ticks on whole buckets, a handful of them", () => {
    expect(timeTicks(start, start + 23 * HOUR_MS, "hourly")).toEqual(
      [0, 6, 12, 18].map((h) => start + h * HOUR_MS),
    );
    expect(timeTicks(start, start + 2 * HOUR_MS, "hourly")).toEqual([0, 1, 2].map((h) => start + h * HOUR_MS));
    expect(timeTicks(start, start, "daily")).toEqual([start]);
    expect(timeTicks(start, start + 29 * DAY_MS, "daily")).toEqual([0, 7, 14, 21, 28].map((d) => start + d * DAY_MS));
    expect(timeTicks(start + 1, start, "daily")).toEqual([]);
  });

  it("labels buckets in UTC", () => {
    expect(timeLabel(Date.UTC(2027, 2, 1, 9), "hourly")).toBe("Mar 1 09:00");
    expect(timeLabel(Date.UTC(2027, 11, 31), "daily")).toBe("Dec 31");
    expect(isoUtc(Date.UTC(2027, 2, 1, 9))).toBe("2027-03-01T09:00:00Z");
  });
});

describe("truncate", () => {
  it("cuts long text", () => {
    expect(truncate("short", 10)).toBe("short");
    expect(truncate("https://shop.example/a-long-path", 12)).toBe("https://sho…");
  });
});
