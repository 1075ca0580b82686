// The funnel builder: steps, their order and window, the view, breakdown and time.
import type { Action } from "../actions";
import { DateRangeFields } from "../insights/date-range";
import { EventOrActionFields, useActions } from "../insights/event-or-action";
import { useEventNames } from "../trends/builder";
import { PropertyFilters } from "../trends/filters";
import { Field } from "../ui";
import type { FunnelsFilter, FunnelsQuery, FunnelStep } from "./query";

const VIEWS: [string, string][] = [["steps", "Conversion steps"], ["time_to_convert", "Time to convert"], ["trends", "Conversion over time"]];
const ORDERS: [string, string][] = [["ordered", "Sequential (other events between)"], ["strict", "Strict order"], ["unordered", "Any order"]];
const UNITS = ["minute", "hour", "day", "week", "month"];

function StepEditor({ step, index, onChange, onRemove, canRemove, onFocusEvent, actions }: {
  step: FunnelStep; index: number; onChange: (s: FunnelStep) => void; onRemove: () => void; canRemove: boolean; onFocusEvent: () => void; actions: Action[] | null;
}) {
  const id = `step-${index}`;
  return (
    <fieldset class="series">
      <legend><span class="letter">{index + 1}</span> Step {index + 1}</legend>
      <div class="row">
        <EventOrActionFields node={step} onChange={onChange} actions={actions} id={id} what={`step ${index + 1}`} onFocusEvent={onFocusEvent} />
        {canRemove && <button type="button" class="secondary small" onClick={onRemove}>Remove step {index + 1}</button>}
      </div>
      <PropertyFilters idPrefix={`${id}-filter`} what={`filter on step ${index + 1}`} filters={step.properties ?? []}
        onChange={(properties) => onChange({ ...step, properties })} />
    </fieldset>
  );
}

export function FunnelsBuilder({ query, onChange, projectId }: { query: FunnelsQuery; onChange: (q: FunnelsQuery) => void; projectId: number }) {
  const [names, wantNames] = useEventNames(projectId);
  const actions = useActions(projectId);
  const set = (change: Partial<FunnelsQuery>) => onChange({ ...query, ...change });
  const filter = query.funnelsFilter ?? {};
  const setFilter = (change: Partial<FunnelsFilter>) => set({ funnelsFilter: { ...filter, ...change } });
  const view = filter.funnelVizType ?? "steps";
  const last = query.series.length - 1;
  const breakdown = query.breakdownFilter ?? {};
  return (
    <form class="builder" onSubmit={(e) => e.preventDefault()} aria-label="Funnel builder">
      <datalist id="event-names">{names.map((n) => <option value={n} key={n} />)}</datalist>
      <div class="row">
        <Field label="Funnel view" id="funnel-view">
          <select id="funnel-view" value={view} onChange={(e) => setFilter({ funnelVizType: (e.target as HTMLSelectElement).value as FunnelsFilter["funnelVizType"] })}>
            {VIEWS.map(([value, text]) => <option value={value} key={value}>{text}</option>)}
          </select>
        </Field>
      </div>
      {query.series.map((s, i) => (
        <StepEditor key={i} step={s} index={i} onFocusEvent={wantNames} actions={actions} canRemove={query.series.length > 2}
          onChange={(next) => set({ series: query.series.map((old, j) => (j === i ? next : old)) })}
          onRemove={() => set({ series: query.series.filter((_, j) => j !== i), funnelsFilter: { ...filter, funnelFromStep: undefined, funnelToStep: undefined } })} />
      ))}
      <button type="button" class="secondary" disabled={query.series.length >= 30} onClick={() => set({ series: [...query.series, { kind: "EventsNode", event: null }] })}>
        Add step
      </button>

      <fieldset>
        <legend>Conversion</legend>
        <div class="row">
          <Field label="Step order" id="funnel-order">
            <select id="funnel-order" value={filter.funnelOrderType ?? "ordered"} onChange={(e) => setFilter({ funnelOrderType: (e.target as HTMLSelectElement).value as FunnelsFilter["funnelOrderType"] })}>
              {ORDERS.map(([value, text]) => <option value={value} key={value}>{text}</option>)}
            </select>
          </Field>
          <Field label="Conversion window" id="funnel-window">
            <input id="funnel-window" type="number" min={1} max={365} value={filter.funnelWindowInterval ?? 14}
              onInput={(e) => setFilter({ funnelWindowInterval: Number((e.target as HTMLInputElement).value) || 14 })} />
          </Field>
          <Field label="Window unit" id="funnel-window-unit">
            <select id="funnel-window-unit" value={filter.funnelWindowIntervalUnit ?? "day"} onChange={(e) => setFilter({ funnelWindowIntervalUnit: (e.target as HTMLSelectElement).value })}>
              {UNITS.map((u) => <option value={u} key={u}>{u}</option>)}
            </select>
          </Field>
        </div>
        {view !== "steps" && (
          <div class="row">
            <Field label="From step" id="funnel-from">
              <select id="funnel-from" value={String(filter.funnelFromStep ?? 0)} onChange={(e) => setFilter({ funnelFromStep: Number((e.target as HTMLSelectElement).value) })}>
                {query.series.slice(0, last).map((_, i) => <option value={String(i)} key={i}>Step {i + 1}</option>)}
              </select>
            </Field>
            <Field label="To step" id="funnel-to">
              <select id="funnel-to" value={String(filter.funnelToStep ?? last)} onChange={(e) => setFilter({ funnelToStep: Number((e.target as HTMLSelectElement).value) })}>
                {query.series.map((_, i) => i > (filter.funnelFromStep ?? 0) && <option value={String(i)} key={i}>Step {i + 1}</option>)}
              </select>
            </Field>
          </div>
        )}
      </fieldset>

      <fieldset>
        <legend>Filters and breakdown</legend>
        <PropertyFilters idPrefix="global-filter" what="filter" filters={query.properties ?? []} onChange={(properties) => set({ properties })} types={["event", "person", "hogql"]} />
        <label class="check">
          <input type="checkbox" checked={Boolean(query.filterTestAccounts)} onChange={(e) => set({ filterTestAccounts: (e.target as HTMLInputElement).checked })} />
          Filter out internal and test users
        </label>
        <div class="row">
          <Field label="Break down by" id="breakdown" hint="An event property, e.g. $browser; empty for none">
            <input id="breakdown" value={breakdown.breakdown ?? ""} placeholder="$browser"
              onInput={(e) => {
                const value = (e.target as HTMLInputElement).value;
                set({ breakdownFilter: value ? { ...breakdown, breakdown: value, breakdown_type: breakdown.breakdown_type ?? "event" } : undefined });
              }} />
          </Field>
        </div>
      </fieldset>

      <fieldset>
        <legend>Time</legend>
        <div class="row">
          <DateRangeFields value={query.dateRange} onChange={(dateRange) => set({ dateRange })} fallback="-30d" />
          {view === "trends" && (
            <Field label="Interval" id="interval">
              <select id="interval" value={query.interval ?? "day"} onChange={(e) => set({ interval: (e.target as HTMLSelectElement).value })}>
                {["hour", "day", "week", "month"].map((u) => <option value={u} key={u}>{u[0].toUpperCase() + u.slice(1)}</option>)}
              </select>
            </Field>
          )}
        </div>
      </fieldset>
    </form>
  );
}
