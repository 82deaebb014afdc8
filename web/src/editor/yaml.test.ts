import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fromYaml, toYaml } from "./yaml";

const sample = readFileSync(fileURLToPath(new URL("../../../examples/campaigns/spring-sale.yaml", import.meta.url)), "utf8");

describe("YAML", () => {
  it("reads a campaign and writes it back in the same key order", () => {
    const read = fromYaml(sample, "spring-sale");
    if (!("doc" in read)) throw new Error(read.error);
    const again = fromYaml(toYaml(read.doc), "spring-sale");
    if (!("doc" in again)) throw new Error(again.error);
    expect(JSON.stringify(again.doc)).toBe(JSON.stringify(read.doc));
    expect(toYaml(read.doc).split("\n")[0]).toBe("name: spring-sale");
    expect(fromYaml(toYaml({ name: "x", t: "yes", d: "2027-03-01" }), "x")).toEqual({ doc: { name: "x", t: "yes", d: "2027-03-01" } });
  });

  it("refuses a document of another campaign, with the names", () => {
    const read = fromYaml(sample, "other");
    expect(read).toEqual({ error: expect.stringContaining('the campaign "spring-sale", not "other"') });
    expect(fromYaml("label: x\n", "c")).toEqual({ error: expect.stringContaining("without a name") });
  });

  it("refuses what is not a campaign", () => {
    expect(fromYaml("- a\n- b\n", "c")).toHaveProperty("error");
    expect(fromYaml("name: c\nactivities: {a: 1}\n", "c")).toHaveProperty("error");
    expect(fromYaml("name: c\nactivities: [{id: a}]\n", "c")).toHaveProperty("error");
    expect(fromYaml("name: [c\n", "c")).toEqual({ error: expect.stringMatching(/^This file is not valid YAML/) });
    expect(fromYaml("name: c\n", "c")).toEqual({ doc: { name: "c" } });
  });
});
