// What a trend, stickiness or lifecycle series, a funnel step or a retention
// entity counts: an event (typed, with the project's event names offered) or
// one of the project's saved actions.
import { type Action, listActions } from "../actions";
import type { EventOrAction } from "../trends/query";
import { Field, useAsync } from "../ui";

/** The project's actions, asked for once by the builder that offers them
 * (null: the list could not be loaded). */
export function useActions(projectId: number): Action[] | null {
  const list = useAsync(() => listActions(projectId), [projectId]);
  return list.error ? null : list.data?.results ?? [];
}

/** ``node`` counting ``target`` instead, its math, filters and name kept. */
function retarget<T extends EventOrAction>(node: T, target: EventOrAction): T {
  const { kind, event, id, name, ...kept } = node as any;
  return { ...kept, ...target } as T;
}

export function EventOrActionFields<T extends EventOrAction>({ node, onChange, actions, id, what, onFocusEvent, hint }: {
  node: T; onChange: (next: T) => void; actions: Action[] | null; id: string; what: string; onFocusEvent: () => void;
  hint?: string; // what the choice means, under the kind
}) {
  const failed = actions === null;
  const choosable = actions ?? [];
  const pick = (kind: string) => {
    if (kind === node.kind) return;
    const first = choosable[0];
    onChange(retarget(node, kind === "ActionsNode" && first ? { kind: "ActionsNode", id: first.id, name: first.name } : { kind: "EventsNode", event: null }));
  };
  const pickAction = (value: string) => {
    const action = choosable.find((a) => String(a.id) === value);
    if (action) onChange(retarget(node, { kind: "ActionsNode", id: action.id, name: action.name }));
  };
  return (
    <>
      <Field label={`Kind of ${what}`} id={`${id}-kind`} hint={hint}>
        <select id={`${id}-kind`} value={node.kind} onChange={(e) => pick((e.target as HTMLSelectElement).value)}>
          <option value="EventsNode">Event</option>
          {/* Choosable once the project has an action (or when the query already names one). */}
          <option value="ActionsNode" disabled={!choosable.length && node.kind !== "ActionsNode"}>
            {choosable.length || node.kind === "ActionsNode" ? "Action" : failed ? "Action (the list did not load)" : "Action (none saved yet)"}
          </option>
        </select>
      </Field>
      {node.kind === "ActionsNode" ? (
        <Field label={`Action of ${what}`} id={`${id}-action`}>
          <select id={`${id}-action`} value={String(node.id)} onChange={(e) => pickAction((e.target as HTMLSelectElement).value)}>
            {/* A query may name an action not (yet) in the list: a link, or the list still loading. */}
            {!choosable.some((a) => a.id === node.id) && <option value={String(node.id)}>{node.name || `Action ${node.id}`}</option>}
            {choosable.map((a) => <option value={String(a.id)} key={a.id}>{a.name}</option>)}
          </select>
        </Field>
      ) : (
        <Field label={`Event of ${what}`} id={`${id}-event`}>
          <input id={`${id}-event`} list="event-names" onFocus={onFocusEvent} value={node.event ?? ""} placeholder="All events (leave empty)"
            onInput={(e) => onChange({ ...node, event: (e.target as HTMLInputElement).value || null })} />
        </Field>
      )}
    </>
  );
}
