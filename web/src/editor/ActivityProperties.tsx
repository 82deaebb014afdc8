// The panel of the selected activity: its type and id, its inputs (with the
// problems about them) and the settings form (ActivityPanel, from web/src/forms,
// which lists the activity's problems next to their fields).
import type { Problem } from "../api";
import type { Activity, CampaignDocument } from "../canvas/convert";
import { typeName } from "../canvas/palette";
import { ActivityPanel } from "../forms";
import { InputsControl } from "./InputsControl";
import { describeProblem, isInputsProblem } from "./problems";

export interface ActivityPropertiesProps {
  campaign: string;
  doc: CampaignDocument;
  activity: Activity;
  problems: Problem[];
  readOnly: boolean;
  onChange: (next: Activity) => void;
  onInputsChange: (inputs: string[]) => void;
  onDelete: () => void;
}

export function ActivityProperties(props: ActivityPropertiesProps) {
  const { campaign, doc, activity, problems, readOnly, onChange, onInputsChange, onDelete } = props;
  return (
    <div className="ov-props">
      <h2 tabIndex={-1} className="ov-panel-heading">
        {typeName(activity.type)} <code>{activity.id}</code>
      </h2>
      <InputsControl
        doc={doc}
        activity={activity}
        readOnly={readOnly}
        onChange={onInputsChange}
        problems={problems.filter((p) => isInputsProblem(p, activity.id)).map(describeProblem)}
      />
      <fieldset className="ov-form" disabled={readOnly}>
        <legend className="sr-only">Settings</legend>
        <ActivityPanel campaign={campaign} document={doc} activity={activity} onChange={onChange} problems={problems} />
      </fieldset>
      {!readOnly && (
        <p>
          <button type="button" className="danger" onClick={onDelete}>
            Delete activity
          </button>
        </p>
      )}
    </div>
  );
}
