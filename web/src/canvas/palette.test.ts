import { describe, expect, it } from "vitest";
import { outputPorts } from "./convert";
import { ACTIVITY_KINDS, PALETTE_GROUPS, freshId, kindsOf, newActivity, takesInputs, typeName } from "./palette";

describe("palette", () => {
  it("groups every activity type of the spec", () => {
    expect(kindsOf("Targeting").map((k) => k.type)).toEqual([
      "build_audience", "read_audience", "load_file", "reconcile", "incremental_query", "combine",
      "deduplicate", "enrich", "split", "change_dimension", "save_audience",
    ]);
    expect(kindsOf("Flow control").map((k) => k.type)).toEqual(["fork", "and_join", "wait", "test", "alert", "end"]);
    expect(kindsOf("Channels").map((k) => k.type)).toEqual(["email", "sms", "push", "direct_mail"]);
    expect(PALETTE_GROUPS.flatMap(kindsOf)).toHaveLength(ACTIVITY_KINDS.length);
  });

  it("gives readable names", () => {
    expect(typeName("build_audience")).toBe("Build audience");
    expect(typeName("deduplicate")).toBe("Deduplicate");
    expect(typeName("email")).toBe("Email");
    expect(typeName("some_future_type")).toBe("some future type");
    expect(new Set(ACTIVITY_KINDS.map((k) => k.name)).size).toBe(ACTIVITY_KINDS.length);
  });

  it("knows which types take inputs", () => {
    expect(takesInputs("build_audience")).toBe(false);
    expect(takesInputs("load_file")).toBe(false);
    expect(takesInputs("combine")).toBe(true);
    expect(takesInputs("email")).toBe(true);
    expect(takesInputs("unknown")).toBe(true);
  });

  it("names new activities after their type, skipping taken ids", () => {
    expect(freshId("email", new Set())).toBe("email_1");
    expect(freshId("email", new Set(["email_1", "email_3"]))).toBe("email_2");
    expect(newActivity("wait", new Set(["wait_1"]))).toEqual({ id: "wait_2", type: "wait", duration: "1 day" });
  });

  it("starts each type with its required settings", () => {
    expect(newActivity("split", new Set())).toMatchObject({ subsets: [{ id: "subset_1" }] });
    expect(newActivity("test", new Set()).conditions).toEqual([{ id: "enough", count: { op: "gte", value: 1 } }]);
    expect(newActivity("combine", new Set()).operation).toBe("union");
    expect(newActivity("deduplicate", new Set()).keys).toEqual(["email"]);
    expect(newActivity("incremental_query", new Set()).mode).toBe("exclude_previous");
    expect(newActivity("fork", new Set()).branches).toEqual(["branch_1", "branch_2"]);
    expect(newActivity("alert", new Set()).title).toBeTruthy();
    expect(newActivity("email", new Set())).toMatchObject({ subject: "", html: "" });
    expect(newActivity("sms", new Set())).toMatchObject({ body: "" });
    expect(newActivity("push", new Set())).toMatchObject({ body: "" });
    expect(newActivity("build_audience", new Set())).toEqual({ id: "build_audience_1", type: "build_audience" });
  });

  it("gives every new activity the ports its type has, and fresh settings each time", () => {
    for (const kind of ACTIVITY_KINDS) {
      const a = newActivity(kind.type, new Set());
      expect(a.id).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(outputPorts(a).length > 0 || kind.type === "end", kind.type).toBe(true);
    }
    const one = newActivity("split", new Set());
    (one.subsets as { id: string }[]).push({ id: "x" });
    expect(newActivity("split", new Set()).subsets).toHaveLength(1);
  });
});
