import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import {
  autoLayout,
  canvasToDocument,
  documentToCanvas,
  outputPorts,
  type CampaignDocument,
  type CanvasEdge,
} from "./convert";

const examples = fileURLToPath(new URL("../../../examples/campaigns/", import.meta.url));
const samples = readdirSync(examples)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

function loadSample(file: string): CampaignDocument {
  return load(readFileSync(examples + file, "utf8")) as CampaignDocument;
}

function roundTrip(doc: CampaignDocument): CampaignDocument {
  const { nodes, edges } = documentToCanvas(doc);
  return canvasToDocument(nodes, edges, doc);
}

function withoutCanvas(doc: CampaignDocument): CampaignDocument {
  const { canvas: _canvas, ...rest } = doc;
  return rest;
}

describe("sample campaigns", () => {
  it("finds the samples", () => {
    expect(samples.length).toBeGreaterThanOrEqual(5);
  });

  describe.each(samples)("%s", (file) => {
    it("round-trips, adding positions for every activity", () => {
      const doc = loadSample(file);
      const before = structuredClone(doc);
      const once = roundTrip(doc);
      expect(doc).toEqual(before); // the input is not modified
      // Everything but the canvas section is unchanged, in the same key order.
      expect(withoutCanvas(once)).toEqual(withoutCanvas(doc));
      expect(JSON.stringify(withoutCanvas(once))).toEqual(JSON.stringify(withoutCanvas(doc)));
      const ids = doc.activities!.map((a) => a.id);
      expect(Object.keys(once.canvas!.positions!)).toEqual(ids);
    });

    it("is the identity once positions are there", () => {
      const once = roundTrip(loadSample(file));
      const twice = roundTrip(once);
      expect(twice).toEqual(once);
      expect(JSON.stringify(twice)).toEqual(JSON.stringify(once));
    });

    it("is the identity on a document with positions and other canvas fields", () => {
      const doc = loadSample(file);
      doc.canvas = {
        notes: [{ text: "check with legal", x: 5, y: 6 }],
        positions: Object.fromEntries(doc.activities!.map((a, i) => [a.id, { x: 10 * i, y: -3.5 * i }])),
        collapsed: ["a_group"],
      };
      const before = structuredClone(doc);
      const after = roundTrip(doc);
      expect(after).toEqual(before);
      expect(JSON.stringify(after)).toEqual(JSON.stringify(before));
    });

    it("gives one edge per input and a handle for each", () => {
      const doc = loadSample(file);
      const { nodes, edges } = documentToCanvas(doc);
      const inputs = doc.activities!.flatMap((a) => a.inputs ?? []);
      expect(edges).toHaveLength(inputs.length);
      expect(new Set(edges.map((e) => e.id)).size).toBe(edges.length);
      for (const edge of edges) {
        const source = nodes.find((n) => n.id === edge.source);
        expect(source, edge.id).toBeDefined();
        expect(source!.data.ports).toContain(edge.sourceHandle);
      }
    });
  });
});

describe("documentToCanvas", () => {
  const doc: CampaignDocument = {
    name: "edge-cases",
    activities: [
      { id: "buyers", type: "build_audience", label: "Buyers", rule: { field: "country", op: "eq", value: "FR" } },
      { id: "others", type: "read_audience", audience: "x" },
      { id: "tiers", type: "split", inputs: ["buyers"], subsets: [{ id: "vip" }, { id: "rest" }], complement: true },
      { id: "vip_mail", type: "email", inputs: ["tiers.vip"], subject: "Hi" },
      { id: "joined", type: "and_join", inputs: ["vip_mail", "others", "tiers.complement"], primary: "vip_mail" },
      { id: "done", type: "end", inputs: ["joined"] },
    ],
  };

  it("carries id, type and settings, and positions from canvas.positions", () => {
    const withPos = { ...doc, canvas: { positions: { tiers: { x: 7, y: 8 } } } };
    const { nodes } = documentToCanvas(withPos);
    const tiers = nodes.find((n) => n.id === "tiers")!;
    expect(tiers.position).toEqual({ x: 7, y: 8 });
    expect(tiers.data.activityType).toBe("split");
    expect(tiers.data.settings).toEqual({ subsets: [{ id: "vip" }, { id: "rest" }], complement: true });
    expect(tiers.data.ports).toEqual(["vip", "rest", "complement"]);
    expect(nodes.find((n) => n.id === "buyers")!.data.label).toBe("Buyers");
    expect(nodes.find((n) => n.id === "others")!.data.label).toBe("others");
  });

  it("maps refs with ports to source handles, and bare refs to `out`", () => {
    const { edges } = documentToCanvas(doc);
    const vip = edges.find((e) => e.target === "vip_mail")!;
    expect(vip).toMatchObject({ source: "tiers", sourceHandle: "vip", target: "vip_mail", label: "vip" });
    const plain = edges.find((e) => e.target === "tiers")!;
    expect(plain).toMatchObject({ source: "buyers", sourceHandle: "out", target: "tiers" });
  });

  it("lays out missing positions by topological depth", () => {
    const layout = autoLayout(doc.activities!);
    const x = (id: string) => layout.get(id)!.x;
    expect(x("buyers")).toBe(0);
    expect(x("others")).toBe(0);
    expect(layout.get("buyers")!.y).not.toBe(layout.get("others")!.y);
    expect(x("tiers")).toBeGreaterThan(x("buyers"));
    expect(x("vip_mail")).toBeGreaterThan(x("tiers"));
    expect(x("joined")).toBeGreaterThan(x("vip_mail"));
    expect(x("done")).toBeGreaterThan(x("joined"));
  });

  it("survives cycles and dangling refs", () => {
    const bad: CampaignDocument = {
      activities: [
        { id: "a", type: "wait", inputs: ["b"] },
        { id: "b", type: "wait", inputs: ["a", "ghost.out"] },
      ],
    };
    const { nodes, edges } = documentToCanvas(bad);
    expect(nodes).toHaveLength(2);
    expect(edges).toHaveLength(3);
    expect(roundTrip(roundTrip(bad))).toEqual(roundTrip(bad));
    expect(roundTrip(bad).activities).toEqual(bad.activities);
  });

  it("knows the ports of each activity type", () => {
    expect(outputPorts({ id: "e", type: "end" })).toEqual([]);
    expect(outputPorts({ id: "l", type: "load_file" })).toEqual(["out", "rejects"]);
    expect(outputPorts({ id: "r", type: "reconcile" })).toEqual(["out"]);
    expect(outputPorts({ id: "r", type: "reconcile", keep_unmatched: true })).toEqual(["out", "unmatched"]);
    expect(outputPorts({ id: "c", type: "combine" })).toEqual(["out"]);
    expect(outputPorts({ id: "c", type: "combine", complement: true })).toEqual(["out", "complement"]);
    expect(outputPorts({ id: "f", type: "fork", branches: ["a", "b"] })).toEqual(["a", "b"]);
    expect(outputPorts({ id: "t", type: "test", conditions: [{ id: "go" }] })).toEqual(["go", "default"]);
  });
});

describe("canvasToDocument", () => {
  const base: CampaignDocument = {
    name: "edge-cases",
    x_custom: { kept: [1, 2, 3] },
    activities: [
      { id: "a", type: "build_audience" },
      { id: "b", type: "build_audience" },
      { id: "c", type: "build_audience" },
      { id: "tiers", type: "split", inputs: ["a"], subsets: [{ id: "vip" }] },
      { id: "join", type: "and_join", label: "All three", inputs: ["c", "a", "tiers.vip"], primary: "a" },
    ],
    canvas: { zoom: 1.5 },
    future_field: "untouched",
  };

  it("keeps the order of an and_join's inputs, whatever the edge order", () => {
    const { nodes, edges } = documentToCanvas(base);
    const shuffled = [...edges].reverse();
    const doc = canvasToDocument(nodes, shuffled, base);
    expect(doc.activities!.find((a) => a.id === "join")!.inputs).toEqual(["c", "a", "tiers.vip"]);
  });

  it("keeps ports in refs and writes new edges in the short form", () => {
    const { nodes, edges } = documentToCanvas(base);
    const extra: CanvasEdge = { id: "new", source: "b", sourceHandle: "out", target: "join", data: { ref: "" } };
    const extra2: CanvasEdge = {
      id: "new2",
      source: "tiers",
      sourceHandle: "vip",
      target: "c",
      data: undefined as never,
    };
    const doc = canvasToDocument(nodes, [extra, ...edges, extra2], base);
    const join = doc.activities!.find((a) => a.id === "join")!;
    expect(join.inputs).toEqual(["c", "a", "tiers.vip", "b"]);
    const c = doc.activities!.find((a) => a.id === "c")!;
    expect(Object.keys(c)).toEqual(["id", "type", "inputs"]);
    expect(c.inputs).toEqual(["tiers.vip"]);
  });

  it("writes no inputs for an activity with no inputs", () => {
    const doc = roundTrip(base);
    const a = doc.activities!.find((x) => x.id === "a")!;
    expect(a).toEqual({ id: "a", type: "build_audience" });
    expect("inputs" in a).toBe(false);
  });

  it("keeps an explicit empty inputs list and the long ref form", () => {
    const odd: CampaignDocument = {
      activities: [
        { id: "a", type: "build_audience", inputs: [] },
        { id: "b", type: "wait", inputs: ["a.out"], duration: "1 day" },
      ],
    };
    expect(roundTrip(odd).activities).toEqual(odd.activities);
  });

  it("drops the inputs of a removed edge but keeps the key", () => {
    const { nodes, edges } = documentToCanvas(base);
    const doc = canvasToDocument(
      nodes,
      edges.filter((e) => e.target !== "tiers"),
      base,
    );
    expect(doc.activities!.find((a) => a.id === "tiers")!.inputs).toEqual([]);
  });

  it("preserves unknown top-level fields, their order and other canvas fields", () => {
    const doc = roundTrip(base);
    expect(Object.keys(doc)).toEqual(["name", "x_custom", "activities", "canvas", "future_field"]);
    expect(doc.x_custom).toBe(base.x_custom);
    expect(doc.future_field).toBe("untouched");
    expect(doc.canvas!.zoom).toBe(1.5);
    expect(Object.keys(doc.canvas!.positions!)).toEqual(["a", "b", "c", "tiers", "join"]);
    expect(base.canvas).toEqual({ zoom: 1.5 }); // base not modified
  });

  it("writes moved positions back and follows node additions and removals", () => {
    const { nodes, edges } = documentToCanvas(base);
    const moved = nodes
      .filter((n) => n.id !== "b")
      .map((n) => (n.id === "a" ? { ...n, position: { x: 42, y: 43 } } : n));
    moved.unshift({
      id: "fresh",
      type: "activity",
      position: { x: 1, y: 2 },
      data: { label: "fresh", activityType: "end", settings: {}, keyOrder: ["id", "type"], ports: [] },
    });
    const doc = canvasToDocument(
      moved,
      [...edges, { id: "x", source: "join", sourceHandle: "out", target: "fresh", data: { ref: "join" } }],
      base,
    );
    expect(doc.activities!.map((a) => a.id)).toEqual(["a", "c", "tiers", "join", "fresh"]);
    expect(doc.activities!.at(-1)).toEqual({ id: "fresh", type: "end", inputs: ["join"] });
    expect(doc.canvas!.positions!.a).toEqual({ x: 42, y: 43 });
    expect(doc.canvas!.positions!.fresh).toEqual({ x: 1, y: 2 });
    expect(doc.canvas!.positions!.b).toBeUndefined();
  });
});
