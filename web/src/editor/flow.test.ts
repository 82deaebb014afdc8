import { describe, expect, it } from "vitest";
import { documentToCanvas, type CampaignDocument } from "../canvas/convert";
import { setPositions, updateActivity } from "../canvas/edit";
import { deriveEdges, deriveNodes } from "./flow";

const doc: CampaignDocument = {
  name: "c",
  activities: [
    { id: "buyers", type: "build_audience", label: "Buyers" },
    { id: "tiers", type: "split", inputs: ["buyers"], subsets: [{ id: "vip" }], complement: true },
    { id: "vip_mail", type: "email", inputs: ["tiers.vip", "ghost"], subject: "Hi" },
  ],
};
const none = new Set<string>();
const derive = (d: CampaignDocument, prev = [] as ReturnType<typeof deriveNodes>, selected = none, problems = new Map<string, number>()) =>
  deriveNodes(d, documentToCanvas(d), selected, problems, prev, false);

describe("flow nodes", () => {
  it("carry the activity, its ports, names and the hooks for tests", () => {
    const nodes = derive(doc, [], new Set(["tiers"]), new Map([["vip_mail", 2]]));
    const tiers = nodes.find((n) => n.id === "tiers")!;
    expect(tiers.data).toMatchObject({ ports: ["vip", "complement"], typeName: "Split", takesInputs: true, problems: 0 });
    expect(tiers.selected).toBe(true);
    expect(tiers.domAttributes).toEqual({ "data-testid": "node-tiers" });
    expect(nodes[0].ariaLabel).toBe("Build audience buyers: Buyers");
    expect(nodes[0].data.takesInputs).toBe(false);
    expect(nodes[2].ariaLabel).toBe("Email vip_mail, 2 problems");
    // the size the canvas draws them at, until xyflow measures them
    expect(tiers.measured).toEqual({ width: 200, height: 58 + 2 * 20 + 6 });
  });

  it("are the same objects when nothing about them changed", () => {
    const first = derive(doc);
    expect(derive(doc, first)).toEqual(first);
    derive(doc, first).forEach((n, i) => expect(n).toBe(first[i]));

    const edited = updateActivity(doc, "vip_mail", { ...doc.activities![2], subject: "Hello" }).doc;
    const second = derive(edited, first);
    expect(second[0]).toBe(first[0]);
    expect(second[1]).toBe(first[1]);
    expect(second[2]).not.toBe(first[2]);

    const moved = derive(setPositions(doc, { buyers: { x: 9, y: 9 } }), first);
    expect(moved[0].position).toEqual({ x: 9, y: 9 });
    expect(moved[0].data).toBe(first[0].data); // the node component need not redraw
  });

  it("keep xyflow's measured size, and its position during a drag", () => {
    const first = derive(doc).map((n) => ({ ...n, measured: { width: 200, height: 90 } }));
    first[0] = { ...first[0], dragging: true, position: { x: 500, y: 500 } };
    const next = derive(doc, first, new Set(["buyers"]));
    expect(next[0].position).toEqual({ x: 500, y: 500 });
    expect(next[0].measured).toEqual({ width: 200, height: 90 });
    expect(next[0].selected).toBe(true);
  });
});

describe("flow edges", () => {
  it("skip dangling refs and name ports", () => {
    const edges = deriveEdges(documentToCanvas(doc), new Set(["tiers.vip->vip_mail"]), []);
    expect(edges.map((e) => e.id)).toEqual(["buyers.out->tiers", "tiers.vip->vip_mail"]);
    expect(edges[1]).toMatchObject({ source: "tiers", sourceHandle: "vip", target: "vip_mail", selected: true, type: "port" });
    expect(edges[1].data).toEqual({ ref: "tiers.vip", port: "vip" });
    const again = deriveEdges(documentToCanvas(doc), new Set(["tiers.vip->vip_mail"]), edges);
    again.forEach((e, i) => expect(e).toBe(edges[i]));
  });
});
