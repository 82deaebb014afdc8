import { describe, expect, it } from "vitest";
import { describeProblem, groupProblems, isInputsProblem } from "./problems";

describe("problems", () => {
  it("groups by activity, keeping the campaign's apart", () => {
    const problems = [
      { activity: "a", path: "a.rule", message: "bad" },
      { activity: null, path: "schedule", message: "late" },
      { activity: "a", path: "a", message: "lonely" },
      { activity: "b", path: "b.subject", message: "missing" },
    ];
    const { byActivity, general } = groupProblems(problems);
    expect(byActivity.get("a")!.map((p) => p.message)).toEqual(["bad", "lonely"]);
    expect(byActivity.get("b")).toHaveLength(1);
    expect(general).toEqual([problems[1]]);
    expect(describeProblem(problems[0])).toBe("a.rule: bad");
    expect(describeProblem(problems[2])).toBe("lonely");
    expect(isInputsProblem({ activity: "a", path: "a.inputs", message: "" }, "a")).toBe(true);
    expect(isInputsProblem({ activity: "a", path: "a.inputs[1]", message: "" }, "a")).toBe(true);
    expect(isInputsProblem({ activity: "a", path: "a.inputs_x", message: "" }, "a")).toBe(false);
    expect(isInputsProblem({ activity: "b", path: "a.inputs", message: "" }, "a")).toBe(false);
  });
});
