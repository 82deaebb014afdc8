// The contract between the canvas editor (web/src/editor) and the side-panel forms
// (web/src/forms): the editor owns the document, the selection, the inputs of an
// activity and saving; the forms own every other setting and call back with a whole
// new value. Both sides import these types; neither imports the other's internals.
import type { Problem } from "./api";
import type { Activity, CampaignDocument } from "./canvas/convert";

export interface ActivityPanelProps {
  /** the campaign's name, for API calls (rule count and SQL, content preview) */
  campaign: string;
  /** the whole current document, unsaved edits included (a rule count needs it) */
  document: CampaignDocument;
  /** the selected activity, as in the document */
  activity: Activity;
  /**
   * A new version of the activity (never mutate the old one). `inputs` is left as
   * it was; when `id` changed, the editor renames every reference to it.
   */
  onChange: (next: Activity) => void;
  /** the draft's problems that concern this activity (shown next to their fields) */
  problems: Problem[];
}

export interface CampaignPanelProps {
  campaign: string;
  document: CampaignDocument;
  /** a new document with the campaign-level fields changed; `activities` untouched */
  onChange: (next: CampaignDocument) => void;
  /** the draft's problems that concern no activity */
  problems: Problem[];
}
