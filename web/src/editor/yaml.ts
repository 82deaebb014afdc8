// Import and export of the campaign document as YAML (js-yaml), keeping key order.
// Pure: unit-tested.
import { dump, load } from "js-yaml";
import type { CampaignDocument } from "../canvas/convert";

export function toYaml(doc: CampaignDocument): string {
  return dump(doc, { noRefs: true, lineWidth: -1 });
}

/** Read a campaign file for the campaign `name`: the document, or why it cannot be. */
export function fromYaml(text: string, name: string): { doc: CampaignDocument } | { error: string } {
  let value: unknown;
  try {
    value = load(text);
  } catch (e) {
    return { error: `This file is not valid YAML: ${(e as Error).message.split("\n")[0]}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: "This file does not hold a campaign (a mapping with a name and activities)." };
  }
  const doc = value as CampaignDocument;
  if (doc.name !== name) {
    const found = typeof doc.name === "string" ? `the campaign "${doc.name}"` : "a campaign without a name";
    return { error: `This file is ${found}, not "${name}": only a document named "${name}" can be imported here.` };
  }
  if (doc.activities !== undefined && !Array.isArray(doc.activities)) {
    return { error: "This file's activities are not a list." };
  }
  const bad = (doc.activities ?? []).find(
    (a) => typeof a !== "object" || a === null || typeof a.id !== "string" || typeof a.type !== "string",
  );
  if (bad !== undefined) return { error: "Every activity needs an id and a type." };
  return { doc };
}
