// The panel with nothing selected: the campaign's settings (CampaignPanel, from
// web/src/forms, which shows the problems that concern no activity).
import type { Problem } from "../api";
import type { CampaignDocument } from "../canvas/convert";
import { CampaignPanel } from "../forms";

export interface CampaignPropertiesProps {
  campaign: string;
  doc: CampaignDocument;
  problems: Problem[];
  readOnly: boolean;
  onChange: (next: CampaignDocument) => void;
}

export function CampaignProperties({ campaign, doc, problems, readOnly, onChange }: CampaignPropertiesProps) {
  return (
    <div className="ov-props">
      <h2 tabIndex={-1} className="ov-panel-heading">
        Campaign <code>{campaign}</code>
      </h2>
      <fieldset className="ov-form" disabled={readOnly}>
        <legend className="sr-only">Campaign settings</legend>
        <CampaignPanel campaign={campaign} document={doc} onChange={onChange} problems={problems} />
      </fieldset>
    </div>
  );
}
