// The Properties panel: the selected activity's, several selected, or the campaign's.
// It takes the focus when asked (`focusToken` changes: a new activity was added).
import { useEffect, useRef } from "react";
import type { Problem } from "../api";
import type { Activity, CampaignDocument } from "../canvas/convert";
import { useAfterFirstPaint } from "./afterPaint";
import { ActivityProperties } from "./ActivityProperties";
import { CampaignProperties } from "./CampaignProperties";
import type { GroupedProblems } from "./problems";

export interface SidePanelProps {
  campaign: string;
  doc: CampaignDocument;
  selected: string[];
  problems: GroupedProblems;
  readOnly: boolean;
  focusToken: number;
  onActivityChange: (id: string, next: Activity) => void;
  onInputsChange: (id: string, inputs: string[]) => void;
  onCampaignChange: (next: CampaignDocument) => void;
  onDelete: () => void;
  /** Shift+Tab from the panel's heading: back to the selected node */
  onBackToCanvas: () => void;
  /** a field was left or Enter pressed in it: the typing there is one undo step */
  onEndOfTyping: () => void;
}

const NONE: Problem[] = [];

export function SidePanel(props: SidePanelProps) {
  const { campaign, doc, selected, problems, readOnly, focusToken } = props;
  const ref = useRef<HTMLElement>(null);
  // the forms (hundreds of elements) wait for the canvas's first paint
  const painted = useAfterFirstPaint();
  const handled = useRef(focusToken);
  const index = selected.length === 1 ? (doc.activities ?? []).findIndex((a) => a.id === selected[0]) : -1;
  const activity: Activity | undefined = index >= 0 ? doc.activities![index] : undefined;

  useEffect(() => {
    if (focusToken === handled.current) return;
    handled.current = focusToken;
    ref.current?.querySelector<HTMLElement>(".ov-panel-heading")?.focus();
  }, [focusToken, activity?.id]);

  function onKeyDown(event: React.KeyboardEvent) {
    if (event.key === "Enter") props.onEndOfTyping();
    if (event.key === "Tab" && event.shiftKey && (event.target as HTMLElement).classList.contains("ov-panel-heading")) {
      if (activity) {
        event.preventDefault();
        props.onBackToCanvas();
      }
    }
  }

  let body;
  if (activity) {
    body = (
      <ActivityProperties
        key={index /* not the id: renaming must not remount the form being typed in */}
        campaign={campaign}
        doc={doc}
        activity={activity}
        problems={problems.byActivity.get(activity.id) ?? NONE}
        readOnly={readOnly}
        onChange={(next) => props.onActivityChange(activity.id, next)}
        onInputsChange={(inputs) => props.onInputsChange(activity.id, inputs)}
        onDelete={props.onDelete}
      />
    );
  } else if (selected.length > 1) {
    body = (
      <div className="ov-props">
        <h2 tabIndex={-1} className="ov-panel-heading">
          {selected.length} activities selected
        </h2>
        <p className="muted">{selected.join(", ")}</p>
        {!readOnly && (
          <button type="button" className="danger" onClick={props.onDelete}>
            Delete {selected.length} activities
          </button>
        )}
      </div>
    );
  } else {
    body = (
      <CampaignProperties
        campaign={campaign}
        doc={doc}
        problems={problems.general}
        readOnly={readOnly}
        onChange={props.onCampaignChange}
      />
    );
  }
  return (
    <aside className="ov-panel" aria-label="Properties" ref={ref} onKeyDown={onKeyDown} onBlur={props.onEndOfTyping}>
      {painted && body}
    </aside>
  );
}
