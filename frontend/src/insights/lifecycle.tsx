// Lifecycle: per period, the new, returning and resurrecting actors as stacked
// bars above zero and the dormant ones below it. A bar opens its actors.
import { BarChart } from "./bars";
import { DateRangeFields } from "./date-range";
import { EventOrActionFields, useActions } from "./event-or-action";
import type { BuilderProps, ViewProps } from "./kinds";
import { useEventNames } from "../trends/builder";
import { shortLabel } from "../trends/chart";
import type { Series, TrendResult } from "../trends/query";
import { TrendTable } from "../trends/table";
import { Empty, Field } from "../ui";

type Result = TrendResult & { status: string };

export const defaultLifecycle = () => ({
  kind: "LifecycleQuery",
  series: [{ kind: "EventsNode", event: "$pageview" }],
  interval: "day",
  dateRange: { date_from: "-14d", date_to: null },
});

const COLOR: Record<string, string> = { new: "#529a0a", returning: "#1d4aff", resurrecting: "#f7a501", dormant: "#f14f58" };

export function IntervalField({ value, onChange }: { value: string | undefined; onChange: (v: string) => void }) {
  return (
    <Field label="Interval" id="interval">
      <select id="interval" value={value ?? "day"} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {["hour", "day", "week", "month"].map((u) => <option value={u} key={u}>{u[0].toUpperCase() + u.slice(1)}</option>)}
      </select>
    </Field>
  );
}

export function LifecycleBuilder({ query, onChange, projectId }: BuilderProps) {
  const [names, wantNames] = useEventNames(projectId);
  const actions = useActions(projectId);
  // Lifecycle follows one series: what makes an actor active in a period.
  const series: Series = query.series?.[0] ?? { kind: "EventsNode", event: null };
  return (
    <form class="builder" onSubmit={(e) => e.preventDefault()} aria-label="Lifecycle builder">
      <datalist id="event-names">{names.map((n) => <option value={n} key={n} />)}</datalist>
      <fieldset>
        <legend>Activity</legend>
        <div class="row">
          <EventOrActionFields node={series} onChange={(next) => onChange({ ...query, series: [next] })}
            actions={actions} id="lifecycle" what="activity" onFocusEvent={wantNames} />
        </div>
        <label class="check">
          <input type="checkbox" checked={Boolean(query.filterTestAccounts)} onChange={(e) => onChange({ ...query, filterTestAccounts: (e.target as HTMLInputElement).checked })} />
          Filter out internal and test users
        </label>
      </fieldset>
      <fieldset>
        <legend>Time</legend>
        <div class="row">
          <DateRangeFields value={query.dateRange} onChange={(dateRange) => onChange({ ...query, dateRange })} fallback="-14d" />
          <IntervalField value={query.interval} onChange={(interval) => onChange({ ...query, interval })} />
        </div>
      </fieldset>
    </form>
  );
}

export function LifecycleView({ query, results, asTable, name, height, open, compact }: ViewProps) {
  const rows = results as Result[];
  if (!rows.length || rows.every((r) => r.data.every((v) => !v)))
    return <Empty title="No activity in this range">Nobody did this event in this date range: try a longer range or another event.</Empty>;
  const pick = (row: number, bucket: number) => {
    const r = rows[row];
    open({ source: { kind: "InsightActorsQuery", source: query, day: r.days[bucket], status: r.status }, title: `${r.status[0].toUpperCase() + r.status.slice(1)} on ${r.labels[bucket]}` });
  };
  return (
    <>
      {!asTable && (
        <BarChart label={`${name} as a chart`} labels={rows[0].labels.map(shortLabel)} stacked height={height}
          series={rows.map((r, i) => ({ name: r.status, values: r.data, color: COLOR[r.status], pick: (bucket: number) => pick(i, bucket) }))} />
      )}
      {!compact && <TrendTable results={rows} caption={`${name} as a table`} pick={pick} />}
    </>
  );
}
