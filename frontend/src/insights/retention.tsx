// Retention: cohorts of actors by the period of their target event, and how many
// came back in each later period, as a shaded table. A cell opens its actors.
import { DateRangeFields } from "./date-range";
import { EventOrActionFields, useActions } from "./event-or-action";
import type { BuilderProps, ViewProps } from "./kinds";
import { useEventNames } from "../trends/builder";
import { breakdownText, type EventOrAction, type PropertyFilter } from "../trends/query";
import { Empty, Field, formatNumber } from "../ui";
import { markDrawn } from "../trends/chart";
import { useEffect, useRef } from "preact/hooks";

/** PostHog's retention entity: an event by its name (null: every event) or an
 * action by its id (``name`` is only for people reading the query). */
type Entity = ({ id: string | null; type: "events" } | { id: number; type: "actions" }) & {
  name?: string; kind?: "EventsNode" | "ActionsNode"; properties?: PropertyFilter[];
};
export type RetentionQuery = {
  kind: "RetentionQuery";
  dateRange?: { date_from?: string | null; date_to?: string | null };
  filterTestAccounts?: boolean;
  retentionFilter: {
    targetEntity?: Entity;
    returningEntity?: Entity;
    retentionType?: string;
    period?: string;
    totalIntervals?: number;
    cumulative?: boolean;
    timeWindowMode?: "strict_calendar_dates" | "24_hour_windows";
    retentionCustomBrackets?: number[];
    aggregationType?: "count" | "sum" | "avg";
    aggregationProperty?: string;
  };
};
type Value = { count: number; label: string; aggregation_value?: number };
type Row = { label: string; date: string; breakdown_value?: unknown; values: Value[] };

// "1, 2, 4" → [1, 2, 4]; anything that is not a list of whole numbers above 0 is no brackets.
export function parseBrackets(text: string): number[] | undefined {
  const parts = text.split(",").map((p) => p.trim()).filter(Boolean);
  const numbers = parts.map(Number);
  return numbers.length && numbers.every((n) => Number.isInteger(n) && n > 0) ? numbers : undefined;
}

export function defaultRetention(): RetentionQuery {
  return {
    kind: "RetentionQuery",
    dateRange: { date_from: "-7d", date_to: null },
    retentionFilter: { targetEntity: { id: "$pageview", type: "events" }, returningEntity: { id: "$pageview", type: "events" }, retentionType: "retention_recurring", period: "Day", totalIntervals: 7 },
  };
}

/** The entity as the event-or-action picker edits it: the node form of trends' series. */
function entityNode(entity: Entity | undefined): EventOrAction {
  const action = entity?.type === "actions" || entity?.kind === "ActionsNode";
  return action ? { kind: "ActionsNode", id: Number(entity.id), name: entity.name } : { kind: "EventsNode", event: entity?.id === undefined || entity.id === null ? null : String(entity.id) };
}

/** The picked node back as an entity, its property filters kept. */
function nodeEntity(node: EventOrAction, old: Entity | undefined): Entity {
  const kept = old?.properties ? { properties: old.properties } : {};
  return node.kind === "ActionsNode" ? { ...kept, id: node.id, type: "actions", name: node.name } : { ...kept, id: node.event, type: "events" };
}

const TYPES: [string, string][] = [["retention_recurring", "Recurring (every period they did it)"], ["retention_first_time", "First time"], ["retention_first_ever_occurrence", "First ever occurrence"]];

export function RetentionBuilder({ query, onChange, projectId }: BuilderProps) {
  const q = query as RetentionQuery;
  const [names, wantNames] = useEventNames(projectId);
  const f = q.retentionFilter ?? {};
  const set = (change: Partial<RetentionQuery["retentionFilter"]>) => onChange({ ...q, retentionFilter: { ...f, ...change } });
  const actions = useActions(projectId);
  return (
    <form class="builder" onSubmit={(e) => e.preventDefault()} aria-label="Retention builder">
      <datalist id="event-names">{names.map((n) => <option value={n} key={n} />)}</datalist>
      <fieldset>
        <legend>Who and when</legend>
        <div class="row">
          <EventOrActionFields node={entityNode(f.targetEntity)} onChange={(node) => set({ targetEntity: nodeEntity(node, f.targetEntity) })}
            actions={actions} id="retention-target" what="cohort entry" hint="What puts an actor in a period's cohort" onFocusEvent={wantNames} />
        </div>
        <div class="row">
          <EventOrActionFields node={entityNode(f.returningEntity)} onChange={(node) => set({ returningEntity: nodeEntity(node, f.returningEntity) })}
            actions={actions} id="retention-returning" what="return" hint="What counts as coming back" onFocusEvent={wantNames} />
        </div>
        <div class="row">
          <Field label="Cohorts" id="retention-type">
            <select id="retention-type" value={f.retentionType ?? "retention_recurring"} onChange={(e) => set({ retentionType: (e.target as HTMLSelectElement).value })}>
              {TYPES.map(([v, t]) => <option value={v} key={v}>{t}</option>)}
            </select>
          </Field>
          <Field label="Period" id="retention-period">
            <select id="retention-period" value={f.period ?? "Day"} onChange={(e) => set({ period: (e.target as HTMLSelectElement).value })}>
              {["Hour", "Day", "Week", "Month"].map((p) => <option value={p} key={p}>{p}</option>)}
            </select>
          </Field>
          <Field label="Periods shown" id="retention-intervals">
            <input id="retention-intervals" type="number" min={1} max={100} value={f.totalIntervals ?? 7}
              onInput={(e) => set({ totalIntervals: Number((e.target as HTMLInputElement).value) || 7 })} />
          </Field>
        </div>
        <div class="row">
          <Field label="Periods counted as" id="retention-windows" hint="24-hour windows count from each actor's first cohort event">
            <select id="retention-windows" value={f.timeWindowMode ?? "strict_calendar_dates"}
              onChange={(e) => { const v = (e.target as HTMLSelectElement).value; set({ timeWindowMode: v === "24_hour_windows" ? v : undefined }); }}>
              <option value="strict_calendar_dates">Calendar periods</option>
              <option value="24_hour_windows">24-hour windows</option>
            </select>
          </Field>
          <Field label="Custom brackets" id="retention-brackets" hint="Periods per column after the cohort, e.g. 1, 2, 4">
            <input id="retention-brackets" inputMode="numeric" placeholder="One period per column" defaultValue={(f.retentionCustomBrackets ?? []).join(", ")}
              onChange={(e) => set({ retentionCustomBrackets: parseBrackets((e.target as HTMLInputElement).value) })} />
          </Field>
          <Field label="Measure" id="retention-measure">
            <select id="retention-measure" value={f.aggregationType ?? "count"}
              onChange={(e) => { const v = (e.target as HTMLSelectElement).value as "count" | "sum" | "avg"; set({ aggregationType: v === "count" ? undefined : v }); }}>
              <option value="count">Actors who came back</option>
              <option value="sum">Sum of an event property</option>
              <option value="avg">Average per actor of an event property</option>
            </select>
          </Field>
          {f.aggregationType && f.aggregationType !== "count" && (
            <Field label="Property" id="retention-property" hint="An event property, read as a number">
              <input id="retention-property" value={f.aggregationProperty ?? ""} placeholder="e.g. revenue"
                onChange={(e) => set({ aggregationProperty: (e.target as HTMLInputElement).value || undefined })} />
            </Field>
          )}
        </div>
        <label class="check">
          <input type="checkbox" checked={Boolean(f.cumulative)} onChange={(e) => set({ cumulative: (e.target as HTMLInputElement).checked })} />
          Cumulative (came back in that period or later)
        </label>
        <label class="check">
          <input type="checkbox" checked={Boolean(q.filterTestAccounts)} onChange={(e) => onChange({ ...q, filterTestAccounts: (e.target as HTMLInputElement).checked })} />
          Filter out internal and test users
        </label>
      </fieldset>
      <fieldset>
        <legend>Time</legend>
        <div class="row"><DateRangeFields value={q.dateRange} onChange={(dateRange) => onChange({ ...q, dateRange })} /></div>
      </fieldset>
    </form>
  );
}

const cohortDate = (iso: string) => {
  const day = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}))?/.exec(iso);
  return day ? `${day[3]}/${day[2]}/${day[1]}${day[4] && day[4] !== "00" ? ` ${day[4]}h` : ""}` : iso;
};

export function RetentionView({ query, results, name, open }: ViewProps) {
  const rows = results as Row[];
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => markDrawn(box.current), [results]);
  if (!rows.length || rows.every((r) => !r.values[0]?.count))
    return <Empty title="No cohorts in this range">Nobody did the cohort's event or action in this date range: try a longer range or another one.</Empty>;
  const labels = rows[0].values.map((v) => v.label);
  // With sum or avg the cells show the property's value, shaded against the table's largest.
  const largest = Math.max(0, ...rows.flatMap((r) => r.values.map((v) => v.aggregation_value ?? 0)));
  const broken = rows.some((r) => r.breakdown_value !== undefined && r.breakdown_value !== null);
  // A cohort row is numbered within its breakdown value, as the API counts them.
  const seen = new Map<string, number>();
  const numbered = rows.map((r) => {
    const key = String(r.breakdown_value ?? "");
    const index = seen.get(key) ?? 0;
    seen.set(key, index + 1);
    return { row: r, index };
  });
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={`${name} as a table`} ref={box}>
      <table class="data retention">
        <caption>{name} as a table</caption>
        <thead>
          <tr>
            {broken && <th scope="col">Breakdown</th>}
            <th scope="col">Cohort</th>
            <th scope="col" class="num">Actors</th>
            {labels.map((l) => <th scope="col" class="num" key={l}>{l}</th>)}
          </tr>
        </thead>
        <tbody>
          {numbered.map(({ row, index }) => {
            const size = row.values[0]?.count ?? 0;
            const where = broken ? ` (${breakdownText(row.breakdown_value)})` : "";
            return (
              <tr key={`${row.date}-${String(row.breakdown_value)}`}>
                {broken && <td>{breakdownText(row.breakdown_value)}</td>}
                <th scope="row">{cohortDate(row.date)}</th>
                <td class="num">{formatNumber(size)}</td>
                {row.values.map((v, k) => {
                  const measured = v.aggregation_value !== undefined && v.aggregation_value !== null;
                  const share = measured ? (largest ? (v.aggregation_value as number) / largest : 0) : size ? v.count / size : 0;
                  const source: Record<string, unknown> = { kind: "InsightActorsQuery", source: query, interval: index, day: k };
                  if (broken) source.breakdown = row.breakdown_value as string;
                  const text = measured ? formatNumber(v.aggregation_value as number) : `${(share * 100).toFixed(1).replace(/\.0$/, "")}%`;
                  return (
                    <td class="cell" key={k} title={`${formatNumber(v.count)} of ${formatNumber(size)}`}
                      style={{ background: `color-mix(in srgb, var(--accent) ${Math.round(share * 85)}%, transparent)`, color: share > 0.55 ? "var(--accent-fg)" : undefined }}>
                      {v.count ? (
                        <button type="button" class="cell" aria-label={`Cohort ${cohortDate(row.date)}${where}, ${v.label}: ${formatNumber(v.count)}`}
                          onClick={() => open({ source, title: `Cohort of ${cohortDate(row.date)}${where}, ${v.label}` })}>{text}</button>
                      ) : text}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
