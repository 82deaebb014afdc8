// The panels rendered to HTML (no browser: effects and requests do not run) for
// every activity of every example: every label names an existing control, ids are
// unique, and the hooks browser tests rely on are there.

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { Problem } from "../api";
import type { Activity, CampaignDocument } from "../canvas/convert";
import { ActivityPanel, CampaignPanel } from "./index";

const examples = fileURLToPath(new URL("../../../examples/campaigns/", import.meta.url));
const samples = readdirSync(examples)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => [f, load(readFileSync(examples + f, "utf8")) as CampaignDocument] as const);

const noop = () => {};

function activityHtml(doc: CampaignDocument, activity: Activity, problems: Problem[] = []): string {
  return renderToStaticMarkup(
    createElement(ActivityPanel, { campaign: String(doc.name), document: doc, activity, onChange: noop, problems }),
  );
}

function campaignHtml(doc: CampaignDocument, problems: Problem[] = []): string {
  return renderToStaticMarkup(createElement(CampaignPanel, { campaign: String(doc.name), document: doc, onChange: noop, problems }));
}

/** Every `<label for>` points at an element that exists, and no id is used twice. */
function checkLabels(html: string) {
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  expect(dupes).toEqual([]);
  const fors = [...html.matchAll(/<label[^>]*\sfor="([^"]+)"/g)].map((m) => m[1]);
  for (const target of fors) expect(ids, `label for=${target}`).toContain(target);
  // every input, select and textarea has an id a label points at (or an aria-label)
  for (const m of html.matchAll(/<(input|select|textarea)\b([^>]*)>/g)) {
    const attrs = m[2];
    if (/type="hidden"/.test(attrs)) continue;
    const id = /\sid="([^"]+)"/.exec(attrs)?.[1];
    const named = /aria-label="/.test(attrs) || (id && fors.includes(id));
    if (!named) {
      // a checkbox wrapped in its label (day and month boxes, the preview's refresh)
      const before = html.slice(Math.max(0, m.index! - 200), m.index!);
      expect(/<label[^>]*>[^<]*$/.test(before) || /<label class="inline">$/.test(before), `unlabelled <${m[1]}${attrs}>`).toBe(true);
    }
  }
}

describe.each(samples)("%s", (_file, doc) => {
  it.each((doc.activities ?? []).map((a) => [a.id, a] as const))("the panel of %s renders with labelled controls", (_id, activity) => {
    const html = activityHtml(doc, activity);
    checkLabels(html);
    expect(html).toContain(`aria-label="Activity ${activity.id}"`);
    expect(html).not.toContain('name="inputs"');
  });

  it("the campaign panel renders with labelled controls", () => {
    const html = campaignHtml(doc);
    checkLabels(html);
    expect(html).toContain('aria-label="Campaign settings"');
  });
});

describe("spring-sale", () => {
  const doc = samples.find(([f]) => f === "spring-sale.yaml")![1];
  const activity = (id: string) => doc.activities!.find((a) => a.id === id)!;

  it("shows the buyers rule as a builder with three leaves and Calculate", () => {
    const html = activityHtml(doc, activity("buyers"));
    expect(html).toContain('aria-label="Rule"');
    expect(html.match(/data-testid="rule-leaf"/g)).toHaveLength(3);
    expect(html).toContain('data-testid="rule-count"');
    expect(html).toContain(">Calculate<");
    expect(html).toContain('value="${vars.min_spend}"');
    expect(html).toContain('aria-label="Add condition"');
  });

  it("names each split subset's rule", () => {
    const html = activityHtml(doc, activity("tiers"));
    expect(html).toContain('aria-label="Rule of subset vip"');
    expect(html).toContain('aria-label="Rule of subset sample"');
    expect(html).toContain('aria-label="Add subset"');
    expect(html).toContain('aria-label="Remove subset vip"');
  });

  it("gives the email a content section with its file", () => {
    const html = activityHtml(doc, activity("vip_mail"));
    expect(html).toContain('aria-label="Content"');
    expect(html).toContain("templates/vip.html");
    expect(html).toContain(">Preview<");
  });

  it("shows problems at the top and beside their field", () => {
    const html = activityHtml(doc, activity("dedup"), [
      { activity: "dedup", path: "dedup.keep.by", message: "unknown field 'signup'" },
    ]);
    expect(html.match(/unknown field &#x27;signup&#x27;/g)).toHaveLength(2);
  });

  it("shows the schedule and where its next starts go", () => {
    const html = campaignHtml(doc, [{ activity: null, path: "schedule.once", message: "is outside the window" }]);
    expect(html).toContain('aria-label="Next starts"');
    expect(html).toContain('value="2027-03-01T09:00"');
    expect(html).toContain("is outside the window");
    expect(html).toContain("Default of variable 2");
  });
});

describe("profiles for the preview", () => {
  it("reads the profiles answer", async () => {
    const { profileChoices } = await import("./ContentEditor");
    expect(
      profileChoices({
        table: "customers",
        key: "customer_id",
        columns: ["customer_id", "email", "first_name"],
        profiles: [{ customer_id: 46, email: "s@x.example", first_name: "Sophie" }],
      }),
    ).toEqual([{ key: "46", label: "46 · s@x.example · Sophie" }]);
    expect(profileChoices({ rows: [{ id: "a", name: null }] })).toEqual([{ key: "a", label: "a" }]);
    expect(profileChoices({ profiles: [] })).toEqual([]);
  });
});
