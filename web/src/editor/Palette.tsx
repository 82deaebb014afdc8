// The activity types, grouped: drag one onto the canvas, or click it (or press
// Enter) to add it at a free spot. When a transition's "+" asked for an activity,
// the palette says so and the choice is inserted on that transition (sources,
// which take no input, are then disabled).
import { useEffect, useRef, type DragEvent } from "react";
import { PALETTE_GROUPS, kindsOf, takesInputs } from "../canvas/palette";
import { DND_TYPE } from "./context";

export interface PendingInsert {
  ref: string;
  target: string;
}

export interface PaletteProps {
  readOnly: boolean;
  insert: PendingInsert | null;
  onChoose: (type: string) => void;
  onCancelInsert: () => void;
}

export function Palette({ readOnly, insert, onChoose, onCancelInsert }: PaletteProps) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (insert) ref.current?.querySelector<HTMLButtonElement>(".ov-palette-item:not(:disabled)")?.focus();
  }, [insert]);

  const onDragStart = (type: string) => (event: DragEvent) => {
    event.dataTransfer.setData(DND_TYPE, type);
    event.dataTransfer.setData("text/plain", type);
    event.dataTransfer.effectAllowed = "move";
  };

  return (
    <aside
      className={insert ? "ov-palette is-inserting" : "ov-palette"}
      aria-label="Palette"
      ref={ref}
      onKeyDown={(e) => {
        if (e.key === "Escape" && insert) onCancelInsert();
      }}
    >
      {insert && (
        <div className="ov-insert-hint" role="status">
          Choose the activity to insert between <code>{insert.ref}</code> and <code>{insert.target}</code>.{" "}
          <button type="button" onClick={onCancelInsert}>
            Cancel
          </button>
        </div>
      )}
      {PALETTE_GROUPS.map((group) => (
        <section key={group} aria-label={group}>
          <h2>{group}</h2>
          <ul>
            {kindsOf(group).map((kind) => (
              <li key={kind.type}>
                <button
                  type="button"
                  className={`ov-palette-item ov-kind-${group.toLowerCase().replace(/\s+/g, "-")}`}
                  draggable={!readOnly}
                  disabled={readOnly || (!!insert && !takesInputs(kind.type)) /* a source cannot go on a transition */}
                  onDragStart={onDragStart(kind.type)}
                  onClick={() => onChoose(kind.type)}
                  title={insert ? `Insert a ${kind.name} activity` : `Add a ${kind.name} activity (or drag it onto the canvas)`}
                >
                  {kind.name}
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </aside>
  );
}
