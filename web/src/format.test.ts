import { describe, expect, it } from "vitest";
import { formatCount, formatDateTime, formatPercent, formatTime } from "./format";

describe("formatCount", () => {
  it("groups thousands", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(999)).toBe("999");
    expect(formatCount(1234)).toBe("1,234");
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(-4200)).toBe("-4,200");
  });
  it("shows unknown as a dash", () => {
    expect(formatCount(null)).toBe("—");
    expect(formatCount(undefined)).toBe("—");
    expect(formatCount(Number.NaN)).toBe("—");
  });
});

describe("formatPercent", () => {
  it("turns fractions into percentages", () => {
    expect(formatPercent(0.1843)).toBe("18.4%");
    expect(formatPercent(1)).toBe("100.0%");
    expect(formatPercent(0.5, 0)).toBe("50%");
    expect(formatPercent(null)).toBe("—");
  });
});

describe("dates", () => {
  it("formats or says unknown", () => {
    expect(formatDateTime(null)).toBe("—");
    expect(formatDateTime("2027-03-01T09:00:00+00:00")).toMatch(/2027/);
    expect(formatDateTime("not a date")).toBe("not a date");
    expect(formatTime(undefined)).toBe("");
  });
});
