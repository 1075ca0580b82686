// The trends builder: everything TrendsQuery offers, as labelled controls.
import { useEffect, useState } from "preact/hooks";
import { hogql } from "../api";
import type { Action } from "../actions";
import { DateRangeFields } from "../insights/date-range";
import { EventOrActionFields, useActions } from "../insights/event-or-action";
import { Field } from "../ui";
import { PropertyFilters } from "./filters";
import { DISPLAYS, letter, MATHS, PROPERTY_MATHS, type Series, type TrendsQuery } from "./query";

const eventNames = new Map<number, Promise<string[]>>();

/** The project's event names, most frequent first, for the event pickers: asked
 * for once a picker is focused (``want``), so the page's own query runs first. */
export function useEventNames(projectId: number): [string[], () => void] {
  const [names, setNames] = useState<string[]>([]);
  const [wanted, setWanted] = useState(false);
  useEffect(() => {
    if (!wanted) return;
    if (!eventNames.has(projectId)) {
      eventNames.set(
        projectId,
        hogql(projectId, "SELECT event, count() AS c FROM events GROUP BY event ORDER BY c DESC LIMIT 200").then(
          (r) => r.results.map((row) => String(row[0])),
          () => [],
        ),
      );
    }
    eventNames.get(projectId)!.then(setNames);
  }, [projectId, wanted]);
  return [names, () => setWanted(true)];
}

function SeriesEditor({ series, index, onChange, onRemove, canRemove, onFocusEvent, actions }: {
  series: Series; index: number; onChange: (s: Series) => void; onRemove: () => void; canRemove: boolean; onFocusEvent: () => void; actions: Action[] | null;
}) {
  const id = `series-${index}`;
  const name = `series ${letter(index)}`;
  return (
    <fieldset class="series">
      <legend>
        <span class="letter">{letter(index)}</span> Series {letter(index)}
      </legend>
      <div class="row">
        <EventOrActionFields node={series} onChange={onChange} actions={actions} id={id} what={name} onFocusEvent={onFocusEvent} />
        <Field label={`Measure of ${name}`} id={`${id}-math`}>
          <select id={`${id}-math`} value={series.math ?? "total"} onChange={(e) => onChange({ ...series, math: (e.target as HTMLSelectElement).value })}>
            {MATHS.map(([value, text]) => <option value={value} key={value}>{text}</option>)}
          </select>
        </Field>
        {PROPERTY_MATHS.has(series.math ?? "") && (
          <Field label={`Property to aggregate in ${name}`} id={`${id}-prop`}>
            <input id={`${id}-prop`} value={series.math_property ?? ""} placeholder="amount"
              onInput={(e) => onChange({ ...series, math_property: (e.target as HTMLInputElement).value })} />
          </Field>
        )}
        {canRemove && (
          <button type="button" class="secondary small" onClick={onRemove}>Remove series {letter(index)}</button>
        )}
      </div>
      <PropertyFilters idPrefix={`${id}-filter`} what={`filter on ${name}`} filters={series.properties ?? []}
        onChange={(properties) => onChange({ ...series, properties })} />
    </fieldset>
  );
}

export function TrendsBuilder({ query, onChange, projectId }: { query: TrendsQuery; onChange: (q: TrendsQuery) => void; projectId: number }) {
  const [names, wantNames] = useEventNames(projectId);
  const actions = useActions(projectId);
  const formula = query.trendsFilter?.formula;
  const set = (change: Partial<TrendsQuery>) => onChange({ ...query, ...change });
  const setSeries = (i: number, s: Series) => set({ series: query.series.map((old, j) => (j === i ? s : old)) });
  const breakdown = query.breakdownFilter ?? {};
  return (
    <form class="builder" onSubmit={(e) => e.preventDefault()} aria-label="Trend builder">
      <datalist id="event-names">
        {names.map((n) => <option value={n} key={n} />)}
      </datalist>
      {query.series.map((s, i) => (
        <SeriesEditor key={i} series={s} index={i} onFocusEvent={wantNames} actions={actions} canRemove={query.series.length > 1}
          onChange={(next) => setSeries(i, next)} onRemove={() => set({ series: query.series.filter((_, j) => j !== i) })} />
      ))}
      <button type="button" class="secondary" onClick={() => set({ series: [...query.series, { kind: "EventsNode", event: "$pageview", math: "total" }] })}>
        Add series
      </button>

      <fieldset>
        <legend>Filters for every series</legend>
        <PropertyFilters idPrefix="global-filter" what="filter" filters={query.properties ?? []} onChange={(properties) => set({ properties })} types={["event", "person", "hogql"]} />
        <label class="check">
          <input type="checkbox" checked={Boolean(query.filterTestAccounts)} onChange={(e) => set({ filterTestAccounts: (e.target as HTMLInputElement).checked })} />
          Filter out internal and test users
        </label>
      </fieldset>

      <fieldset>
        <legend>Breakdown</legend>
        <div class="row">
          <Field label="Break down by" id="breakdown" hint="A property name, e.g. $browser; empty for none">
            <input id="breakdown" value={breakdown.breakdown ?? ""} placeholder="$browser"
              onInput={(e) => {
                const value = (e.target as HTMLInputElement).value;
                set({ breakdownFilter: value ? { ...breakdown, breakdown: value, breakdown_type: breakdown.breakdown_type ?? "event" } : undefined });
              }} />
          </Field>
          <Field label="Breakdown type" id="breakdown-type">
            <select id="breakdown-type" value={breakdown.breakdown_type ?? "event"} disabled={!breakdown.breakdown}
              onChange={(e) => set({ breakdownFilter: { ...breakdown, breakdown_type: (e.target as HTMLSelectElement).value } })}>
              <option value="event">Event property</option>
              <option value="person">Person property</option>
              <option value="hogql">HogQL expression</option>
            </select>
          </Field>
          <Field label="Most frequent values kept" id="breakdown-limit">
            <input id="breakdown-limit" type="number" min={1} max={1000} value={breakdown.breakdown_limit ?? 25} disabled={!breakdown.breakdown}
              onInput={(e) => set({ breakdownFilter: { ...breakdown, breakdown_limit: Number((e.target as HTMLInputElement).value) || 25 } })} />
          </Field>
        </div>
      </fieldset>

      <fieldset>
        <legend>Time</legend>
        <div class="row">
          <DateRangeFields value={query.dateRange} onChange={(dateRange) => set({ dateRange })} />
          <Field label="Interval" id="interval">
            <select id="interval" value={query.interval ?? "day"} onChange={(e) => set({ interval: (e.target as HTMLSelectElement).value })}>
              <option value="hour">Hour</option>
              <option value="day">Day</option>
              <option value="week">Week</option>
              <option value="month">Month</option>
            </select>
          </Field>
        </div>
        <label class="check">
          <input type="checkbox" checked={Boolean(query.compareFilter?.compare)} onChange={(e) => set({ compareFilter: { compare: (e.target as HTMLInputElement).checked } })} />
          Compare with the previous period
        </label>
      </fieldset>

      <fieldset>
        <legend>Formula and display</legend>
        <div class="row">
          <label class="check">
            <input type="checkbox" checked={formula !== undefined && formula !== null}
              onChange={(e) => set({ trendsFilter: { ...query.trendsFilter, formula: (e.target as HTMLInputElement).checked ? "A" : null } })} />
            Use a formula
          </label>
          {formula !== undefined && formula !== null && (
            <Field label="Formula" id="formula" hint="Series letters and arithmetic, e.g. A/B*100">
              <input id="formula" value={formula} onInput={(e) => set({ trendsFilter: { ...query.trendsFilter, formula: (e.target as HTMLInputElement).value } })} />
            </Field>
          )}
          <Field label="Display" id="display">
            <select id="display" value={query.trendsFilter?.display ?? "ActionsLineGraph"}
              onChange={(e) => set({ trendsFilter: { ...query.trendsFilter, display: (e.target as HTMLSelectElement).value } })}>
              {DISPLAYS.map(([value, text]) => <option value={value} key={value}>{text}</option>)}
            </select>
          </Field>
        </div>
      </fieldset>
    </form>
  );
}

/** The query as the API takes it: empty filter rows and a blank formula left out. */
export function cleanQuery(query: TrendsQuery): TrendsQuery {
  const clean = (filters?: any[]) => (filters ?? []).filter((f) => String(f.key ?? "").trim());
  const out: TrendsQuery = {
    ...query,
    series: query.series.map((s) => ({ ...s, properties: clean(s.properties) })),
    properties: clean(query.properties),
  };
  if (!out.trendsFilter?.formula) out.trendsFilter = { ...out.trendsFilter, formula: undefined };
  if (!out.breakdownFilter?.breakdown) delete out.breakdownFilter;
  return out;
}
