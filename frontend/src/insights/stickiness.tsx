// Stickiness: how many actors were active on 1, 2, … N intervals of the range,
// as bars per series. A bar opens its actors.
import { BarChart } from "./bars";
import { DateRangeFields } from "./date-range";
import { EventOrActionFields, useActions } from "./event-or-action";
import type { BuilderProps, ViewProps } from "./kinds";
import { IntervalField } from "./lifecycle";
import { useEventNames } from "../trends/builder";
import { letter, type Series, seriesName, type TrendResult } from "../trends/query";
import { TrendTable } from "../trends/table";
import { Empty } from "../ui";

export const defaultStickiness = () => ({
  kind: "StickinessQuery",
  series: [{ kind: "EventsNode", event: "$pageview", math: "total" }],
  interval: "day",
  dateRange: { date_from: "-7d", date_to: null },
});

export function StickinessBuilder({ query, onChange, projectId }: BuilderProps) {
  const [names, wantNames] = useEventNames(projectId);
  const actions = useActions(projectId);
  const series: Series[] = query.series ?? [];
  const setSeries = (next: Series[]) => onChange({ ...query, series: next });
  const cumulative = query.stickinessFilter?.computedAs === "cumulative";
  return (
    <form class="builder" onSubmit={(e) => e.preventDefault()} aria-label="Stickiness builder">
      <datalist id="event-names">{names.map((n) => <option value={n} key={n} />)}</datalist>
      <fieldset>
        <legend>Series</legend>
        {series.map((s, i) => (
          <div class="row" key={i}>
            <EventOrActionFields node={s} onChange={(next) => setSeries(series.map((old, j) => (j === i ? next : old)))}
              actions={actions} id={`series-${i}`} what={`series ${letter(i)}`} onFocusEvent={wantNames} />
            {series.length > 1 && <button type="button" class="secondary small" onClick={() => setSeries(series.filter((_, j) => j !== i))}>Remove series {letter(i)}</button>}
          </div>
        ))}
        <button type="button" class="secondary" onClick={() => setSeries([...series, { kind: "EventsNode", event: "$pageview", math: "total" }])}>Add series</button>
        <label class="check">
          <input type="checkbox" checked={cumulative} onChange={(e) => onChange({ ...query, stickinessFilter: { ...query.stickinessFilter, computedAs: (e.target as HTMLInputElement).checked ? "cumulative" : "non_cumulative" } })} />
          Cumulative ("k intervals or more")
        </label>
        <label class="check">
          <input type="checkbox" checked={Boolean(query.filterTestAccounts)} onChange={(e) => onChange({ ...query, filterTestAccounts: (e.target as HTMLInputElement).checked })} />
          Filter out internal and test users
        </label>
      </fieldset>
      <fieldset>
        <legend>Time</legend>
        <div class="row">
          <DateRangeFields value={query.dateRange} onChange={(dateRange) => onChange({ ...query, dateRange })} />
          <IntervalField value={query.interval} onChange={(interval) => onChange({ ...query, interval })} />
        </div>
      </fieldset>
    </form>
  );
}

export function StickinessView({ query, results, asTable, name, height, open, compact }: ViewProps) {
  const rows = results as TrendResult[];
  if (!rows.length || rows.every((r) => !r.count))
    return <Empty title="Nobody was active in this range">No actor did these events in this date range: try a longer range or another event.</Empty>;
  const pick = (row: number, bucket: number) => {
    const r = rows[row];
    const source: Record<string, unknown> = { kind: "InsightActorsQuery", source: query, day: r.days[bucket], series: r.action?.order ?? row };
    if (r.compare_label) source.compare = r.compare_label;
    open({ source, title: `${seriesName(r)}: active ${r.labels[bucket]}` });
  };
  return (
    <>
      {!asTable && (
        <BarChart label={`${name} as a chart`} labels={rows[0].labels} height={height}
          series={rows.map((r, i) => ({ name: seriesName(r), values: r.data, pick: (bucket: number) => pick(i, bucket) }))} />
      )}
      {!compact && <TrendTable results={rows} caption={`${name} as a table`} pick={pick} />}
    </>
  );
}
