import { describe, expect, it } from "vitest";
import type { CampaignDocument } from "./convert";
import {
  addActivity,
  addInput,
  connect,
  copyActivities,
  copyId,
  descendants,
  freeSpot,
  idProblem,
  insertBetween,
  outputRefs,
  pasteFragment,
  removeActivities,
  removeInput,
  renameActivity,
  setInputs,
  setPositions,
  updateActivity,
  withInputs,
} from "./edit";
import { NODE_WIDTH, nodeHeight, overlaps } from "./geometry";

const doc: CampaignDocument = {
  name: "c",
  label: "C",
  activities: [
    { id: "buyers", type: "build_audience", label: "Buyers" },
    { id: "others", type: "read_audience", audience: "x" },
    { id: "tiers", type: "split", inputs: ["buyers"], subsets: [{ id: "vip" }, { id: "rest" }], complement: true },
    { id: "vip_mail", type: "email", label: "VIP", inputs: ["tiers.vip"], subject: "Hi" },
    { id: "joined", type: "and_join", inputs: ["vip_mail", "others", "tiers.complement"], primary: "vip_mail" },
    { id: "done", type: "end", inputs: ["joined"] },
  ],
  canvas: {
    notes: ["keep me"],
    positions: {
      buyers: { x: 0, y: 0 },
      others: { x: 0, y: 120 },
      tiers: { x: 260, y: 0 },
      vip_mail: { x: 520, y: 0 },
      joined: { x: 780, y: 0 },
      done: { x: 1040, y: 0 },
    },
  },
  schedule: null,
};
const frozen = structuredClone(doc);
const byId = (d: CampaignDocument, id: string) => d.activities!.find((a) => a.id === id)!;
const ids = (d: CampaignDocument) => d.activities!.map((a) => a.id);

describe("edits", () => {
  it("never modify their input and share what did not change", () => {
    const out = setInputs(doc, "done", ["vip_mail"]);
    expect(doc).toEqual(frozen);
    expect(byId(out, "buyers")).toBe(byId(doc, "buyers"));
    expect(Object.keys(out)).toEqual(Object.keys(doc));
  });

  it("write inputs where they were, or after id, type and label", () => {
    expect(Object.keys(withInputs({ id: "a", type: "email", label: "x", subject: "s" }, ["b"]))).toEqual([
      "id", "type", "label", "inputs", "subject",
    ]);
    expect(Object.keys(withInputs({ id: "a", type: "end", inputs: [], z: 1 }, ["b"]))).toEqual(["id", "type", "inputs", "z"]);
  });

  it("set positions, keeping other canvas fields and top-level order", () => {
    const out = setPositions(doc, { tiers: { x: 1, y: 2 } });
    expect(out.canvas!.positions!.tiers).toEqual({ x: 1, y: 2 });
    expect(out.canvas!.notes).toEqual(["keep me"]);
    expect(Object.keys(out)).toEqual(["name", "label", "activities", "canvas", "schedule"]);
    expect(setPositions(doc, { tiers: { x: 260, y: 0 } })).toBe(doc);
    const bare = setPositions({ name: "n", activities: [] }, { a: { x: 0, y: 0 } });
    expect(Object.keys(bare)).toEqual(["name", "activities", "canvas"]);
  });

  it("add an activity with its position", () => {
    const out = addActivity(doc, { id: "wait_1", type: "wait", duration: "1 day" }, { x: 5, y: 6 });
    expect(ids(out).at(-1)).toBe("wait_1");
    expect(out.canvas!.positions!.wait_1).toEqual({ x: 5, y: 6 });
  });

  it("remove activities, their positions and the inputs naming them", () => {
    const out = removeActivities(doc, ["tiers", "others"]);
    expect(ids(out)).toEqual(["buyers", "vip_mail", "joined", "done"]);
    expect(byId(out, "vip_mail").inputs).toEqual([]);
    expect(byId(out, "joined").inputs).toEqual(["vip_mail"]);
    expect(out.canvas!.positions!.tiers).toBeUndefined();
    expect(removeActivities(doc, [])).toBe(doc);
    expect(removeActivities(doc, ["ghost"])).toBe(doc);
  });

  it("connect ports in the short form, once, never to itself", () => {
    const out = connect(doc, "buyers", "out", "done");
    expect(byId(out, "done").inputs).toEqual(["joined", "buyers"]);
    expect(connect(out, "buyers", "out", "done")).toBe(out);
    expect(addInput(out, "done", "buyers.out")).toBe(out);
    expect(connect(doc, "tiers", "rest", "done").activities!.at(-1)!.inputs).toEqual(["joined", "tiers.rest"]);
    expect(connect(doc, "done", "out", "done")).toBe(doc);
    const fresh = connect(doc, "buyers", null, "others");
    expect(Object.keys(byId(fresh, "others"))).toEqual(["id", "type", "inputs", "audience"]);
  });

  it("remove one input, exact or equivalent", () => {
    expect(byId(removeInput(doc, "joined", "others"), "joined").inputs).toEqual(["vip_mail", "tiers.complement"]);
    expect(byId(removeInput(doc, "joined", "others.out"), "joined").inputs).toEqual(["vip_mail", "tiers.complement"]);
    expect(removeInput(doc, "joined", "buyers")).toBe(doc);
  });

  it("list every other activity's output ports", () => {
    const refs = outputRefs(doc, "joined").map((r) => r.ref);
    expect(refs).toEqual([
      "buyers.out", "others.out", "tiers.vip", "tiers.rest", "tiers.complement", "vip_mail.out",
    ]);
  });

  it("find what is downstream", () => {
    expect([...descendants(doc, "tiers")].sort()).toEqual(["done", "joined", "vip_mail"]);
    expect(descendants(doc, "done").size).toBe(0);
  });
});

describe("renaming", () => {
  it("renames every ref, primary and the position key, in order", () => {
    const out = renameActivity(doc, "tiers", "segments");
    expect(ids(out)).toEqual(["buyers", "others", "segments", "vip_mail", "joined", "done"]);
    expect(byId(out, "vip_mail").inputs).toEqual(["segments.vip"]);
    expect(byId(out, "joined").inputs).toEqual(["vip_mail", "others", "segments.complement"]);
    expect(Object.keys(out.canvas!.positions!)).toEqual(["buyers", "others", "segments", "vip_mail", "joined", "done"]);
    const mail = renameActivity(doc, "vip_mail", "preview");
    expect(byId(mail, "joined")).toMatchObject({ inputs: ["preview", "others", "tiers.complement"], primary: "preview" });
    expect(byId(mail, "buyers")).toBe(byId(doc, "buyers"));
  });

  it("does not touch ids that only start the same", () => {
    const d: CampaignDocument = {
      activities: [
        { id: "a", type: "build_audience" },
        { id: "a_b", type: "build_audience" },
        { id: "c", type: "combine", inputs: ["a", "a_b", "a.out"], operation: "union" },
      ],
    };
    expect(byId(renameActivity(d, "a", "z"), "c").inputs).toEqual(["z", "a_b", "z.out"]);
  });

  it("checks new ids", () => {
    expect(idProblem(doc, "tiers", "buyers")).toMatch(/another activity/);
    expect(idProblem(doc, "buyers", "buyers")).toBeNull();
    expect(idProblem(doc, "")).toMatch(/needs an id/);
    expect(idProblem(doc, "a.b")).toMatch(/dots/);
    expect(idProblem(doc, "new_one")).toBeNull();
  });

  it("updates an activity from a form: inputs kept, id renamed, ports followed", () => {
    const tiers = byId(doc, "tiers");
    const renamed = updateActivity(doc, "tiers", { ...tiers, id: "seg", inputs: ["others"] }).doc;
    expect(byId(renamed, "seg").inputs).toEqual(["buyers"]);
    expect(byId(renamed, "vip_mail").inputs).toEqual(["seg.vip"]);

    const gold = updateActivity(doc, "tiers", { ...tiers, subsets: [{ id: "gold" }, { id: "rest" }] }).doc;
    expect(byId(gold, "vip_mail").inputs).toEqual(["tiers.gold"]);
    expect(byId(gold, "joined").inputs).toEqual(["vip_mail", "others", "tiers.complement"]);

    const noInputs = updateActivity(doc, "buyers", { id: "buyers", type: "build_audience", inputs: ["x"] }).doc;
    expect("inputs" in byId(noInputs, "buyers")).toBe(false);

    const taken = updateActivity(doc, "tiers", { ...tiers, id: "buyers" });
    expect(taken.doc).toBe(doc);
    expect(taken.error).toMatch(/another activity/);
  });
});

describe("inserting on a transition", () => {
  it("re-points the target to the new activity, which takes the old ref", () => {
    const out = insertBetween(doc, "tiers.vip", "vip_mail", { id: "wait_1", type: "wait", duration: "1 day" });
    expect(byId(out, "wait_1").inputs).toEqual(["tiers.vip"]);
    expect(Object.keys(byId(out, "wait_1"))).toEqual(["id", "type", "inputs", "duration"]);
    expect(byId(out, "vip_mail").inputs).toEqual(["wait_1"]);
    const p = out.canvas!.positions!;
    expect(p.wait_1.x).toBeGreaterThan(p.tiers.x);
    expect(p.vip_mail.x).toBeGreaterThan(p.wait_1.x);
    expect(p.done.x).toBeGreaterThan(p.joined.x); // what follows moved along
  });

  it("follows a primary and uses the first port of a split", () => {
    const out = insertBetween(doc, "vip_mail", "joined", { id: "s", type: "split", subsets: [{ id: "a" }] });
    expect(byId(out, "joined")).toMatchObject({ inputs: ["s.a", "others", "tiers.complement"], primary: "s.a" });
  });

  it("only attaches an end", () => {
    const out = insertBetween(doc, "tiers.vip", "vip_mail", { id: "end_1", type: "end" });
    expect(byId(out, "end_1").inputs).toEqual(["tiers.vip"]);
    expect(byId(out, "vip_mail").inputs).toEqual(["tiers.vip"]);
  });
});

describe("copy and paste", () => {
  it("gives fresh ids and keeps only the edges between copied activities", () => {
    const fragment = copyActivities(doc, ["tiers", "vip_mail", "joined"]);
    const { doc: out, ids: pasted } = pasteFragment(doc, fragment, { x: 40, y: 40 });
    expect(pasted).toEqual(["tiers_1", "vip_mail_1", "joined_1"]);
    expect(byId(out, "tiers_1").inputs).toBeUndefined();
    expect(byId(out, "vip_mail_1").inputs).toEqual(["tiers_1.vip"]);
    expect(byId(out, "joined_1")).toMatchObject({ inputs: ["vip_mail_1", "tiers_1.complement"], primary: "vip_mail_1" });
    expect(out.canvas!.positions!.tiers_1).toEqual({ x: 300, y: 40 });
    expect(ids(out).slice(0, 6)).toEqual(ids(doc));
    expect(doc).toEqual(frozen);
  });

  it("pastes twice without clashes, and drops a primary from outside", () => {
    const fragment = copyActivities(doc, ["joined"]);
    const once = pasteFragment(doc, fragment, { x: 0, y: 0 });
    const twice = pasteFragment(once.doc, fragment, { x: 0, y: 0 });
    expect(twice.ids).toEqual(["joined_2"]);
    expect("primary" in byId(once.doc, "joined_1")).toBe(false);
    expect("inputs" in byId(once.doc, "joined_1")).toBe(false);
  });

  it("numbers copies after the copied id", () => {
    expect(copyId("email_1", new Set(["email_1"]))).toBe("email_2");
    expect(copyId("buyers", new Set(["buyers", "buyers_1"]))).toBe("buyers_2");
  });

  it("copies deeply", () => {
    const fragment = copyActivities(doc, ["tiers"]);
    (fragment.activities[0].subsets as unknown[]).push("x");
    expect((byId(doc, "tiers").subsets as unknown[]).length).toBe(2);
  });
});

describe("free spot", () => {
  it("finds a spot that overlaps no node, near a given one when asked", () => {
    const spot = freeSpot(doc);
    const near = freeSpot(doc, { x: 0, y: 0 });
    for (const p of [spot, near]) {
      for (const q of Object.values(doc.canvas!.positions!)) {
        expect(overlaps({ ...p, width: NODE_WIDTH, height: nodeHeight(1) }, { ...q, width: NODE_WIDTH, height: nodeHeight(3) })).toBe(false);
      }
    }
    expect(freeSpot({ activities: [] })).toEqual({ x: 0, y: 0 });
  });
});
