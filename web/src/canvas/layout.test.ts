import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { documentToCanvas, type CampaignDocument } from "./convert";
import { NODE_WIDTH, nodeHeight, overlaps } from "./geometry";
import { dagreLayout, ensurePositions, portOrderConstraints, tidyUp } from "./layout";

const examples = fileURLToPath(new URL("../../../examples/campaigns/", import.meta.url));
const samples = readdirSync(examples).filter((f) => f.endsWith(".yaml")).sort();
const loadSample = (file: string) => load(readFileSync(examples + file, "utf8")) as CampaignDocument;

function checkLayout(doc: CampaignDocument) {
  const layout = dagreLayout(doc);
  const { nodes, edges } = documentToCanvas(doc);
  const boxes = nodes.map((n) => ({ id: n.id, ...layout[n.id], width: NODE_WIDTH, height: nodeHeight(n.data.ports.length) }));
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      expect(overlaps(boxes[i], boxes[j]), `${boxes[i].id} / ${boxes[j].id}`).toBe(false);
    }
  }
  for (const e of edges) {
    if (layout[e.source] && layout[e.target]) {
      expect(layout[e.target].x, e.id).toBeGreaterThan(layout[e.source].x + NODE_WIDTH);
    }
  }
  return layout;
}

/** A campaign of `n` activities: sources, splits, channels, joins. */
function bigCampaign(n: number): CampaignDocument {
  const activities: CampaignDocument["activities"] = [];
  for (let i = 0; i < n; i++) {
    if (i % 10 === 0) activities.push({ id: `src_${i}`, type: "build_audience" });
    else if (i % 10 === 1) activities.push({ id: `split_${i}`, type: "split", inputs: [`src_${i - 1}`], subsets: [{ id: "a" }, { id: "b" }], complement: true });
    else if (i % 10 < 5) activities.push({ id: `mail_${i}`, type: "email", inputs: [`split_${i - (i % 10) + 1}.${["a", "b", "complement"][(i % 10) - 2]}`] });
    else if (i % 10 === 5) activities.push({ id: `join_${i}`, type: "and_join", inputs: [`mail_${i - 3}`, `mail_${i - 2}`, `mail_${i - 1}`] });
    else activities.push({ id: `wait_${i}`, type: "wait", inputs: [activities[i - 1].id], duration: "1 day" });
  }
  return { name: "big", activities };
}

describe("dagre layout", () => {
  it.each(samples)("lays out %s left to right without overlaps", (file) => {
    const layout = checkLayout(loadSample(file));
    expect(Object.keys(layout)).toHaveLength(loadSample(file).activities!.length);
  });

  it("lays out 100 activities without overlaps", () => {
    checkLayout(bigCampaign(100));
  });

  it("stacks the targets of a split in port order", () => {
    const doc: CampaignDocument = {
      activities: [
        { id: "src", type: "build_audience" },
        { id: "tiers", type: "split", inputs: ["src"], subsets: [{ id: "zeta" }, { id: "alpha" }], complement: true },
        { id: "c_last", type: "end", inputs: ["tiers.complement"] },
        { id: "a_second", type: "end", inputs: ["tiers.alpha"] },
        { id: "z_first", type: "end", inputs: ["tiers.zeta"] },
      ],
    };
    const layout = checkLayout(doc);
    expect(layout.z_first.y).toBeLessThan(layout.a_second.y);
    expect(layout.a_second.y).toBeLessThan(layout.c_last.y);
  });

  it("keeps the port order of a test's branches in the spring sale", () => {
    const doc = loadSample("spring-sale.yaml");
    const layout = dagreLayout(doc);
    expect(layout.tiers.y).toBeLessThan(layout.too_small.y); // go above default
    expect(layout.vip_mail.y).toBeLessThan(layout.sample_done.y);
    expect(layout.sample_done.y).toBeLessThan(layout.others_done.y);
  });

  it("skips contradicting order constraints and survives cycles and dangling refs", () => {
    const doc: CampaignDocument = {
      activities: [
        { id: "a", type: "fork", branches: ["x", "y"] },
        { id: "b", type: "fork", branches: ["x", "y"] },
        { id: "p", type: "combine", inputs: ["a.x", "b.y", "ghost"], operation: "union" },
        { id: "q", type: "combine", inputs: ["a.y", "b.x", "q"], operation: "union" },
      ],
    };
    const constraints = portOrderConstraints(doc);
    expect(constraints).toEqual([{ left: "p", right: "q" }]);
    const layout = dagreLayout(doc);
    expect(Object.keys(layout).sort()).toEqual(["a", "b", "p", "q"]);
  });

  it("tidies up in one new document and places only what has no position", () => {
    const doc = loadSample("spring-sale.yaml");
    const tidy = tidyUp(doc);
    expect(Object.keys(tidy.canvas!.positions!)).toEqual(doc.activities!.map((a) => a.id));
    expect(ensurePositions(tidy)).toBe(tidy);
    expect(ensurePositions(doc)).toEqual(tidy);

    const added = { ...tidy, activities: [...tidy.activities!, { id: "later", type: "end", inputs: ["vip_mail"] }] };
    const placed = ensurePositions(added);
    const p = placed.canvas!.positions!;
    expect(p.later.x).toBeGreaterThan(p.vip_mail.x);
    for (const a of tidy.activities!) expect(p[a.id]).toEqual(tidy.canvas!.positions![a.id]);
    for (const a of added.activities!) {
      if (a.id === "later") continue;
      const ports = documentToCanvas(added).nodes.find((n) => n.id === a.id)!.data.ports.length;
      expect(overlaps({ ...p.later, width: NODE_WIDTH, height: nodeHeight(1) }, { ...p[a.id], width: NODE_WIDTH, height: nodeHeight(ports) })).toBe(false);
    }
  });
});
