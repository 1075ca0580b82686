// A funnel's answer in its three views: steps (bars of those who converted and
// those who dropped off, with rates), time to convert (a histogram) and
// conversion over time (the trend chart). Every count opens its actors.
import type { OpenActors } from "../insights/actors";
import { BarChart } from "../insights/bars";
import { TrendChart } from "../trends/chart";
import { breakdownText, type TrendResult } from "../trends/query";
import { TrendTable } from "../trends/table";
import { Empty, formatNumber } from "../ui";
import { duration, percent, stepName, type FunnelsQuery, type StepResult, type TimeToConvert } from "./query";

type Props = { query: FunnelsQuery; results: any; asTable: boolean; name: string; height?: number; open: OpenActors; compact?: boolean };

const nothing = (
  <Empty title="Nobody entered this funnel">
    No actor did the first step in this date range: try a longer range, or check the steps' event names.
  </Empty>
);

function actorsOf(query: FunnelsQuery, funnelStep: number, breakdown?: unknown[]) {
  const source: Record<string, unknown> = { kind: "FunnelsActorsQuery", source: query, funnelStep };
  if (breakdown !== undefined) source.funnelStepBreakdown = breakdown;
  return source;
}

// A new paths insight of this funnel's actors at one step (after it, or, for a
// negative step, after they dropped off), in the insight page of this project.
function pathsLink(query: FunnelsQuery, funnelStep: number): string {
  const paths = {
    kind: "PathsQuery",
    dateRange: query.dateRange,
    pathsFilter: { includeEventTypes: ["$pageview", "custom_event"], stepLimit: 5, edgeLimit: 50 },
    funnelPathsFilter: { funnelPathType: "funnel_path_after_step", funnelStep, funnelSource: query },
  };
  const base = location.pathname.replace(/\/(insights|dashboard)\b.*$/, "");
  return `${base}/insights/new#q=${encodeURIComponent(JSON.stringify(paths))}`;
}

function StepsTable({ groups, query, open, name }: { groups: StepResult[][]; query: FunnelsQuery; open: OpenActors; name: string }) {
  const broken = groups.length > 1 || groups[0]?.[0]?.breakdown_value !== undefined;
  const button = (text: string, value: number, funnelStep: number, steps: StepResult[], title: string) =>
    value ? (
      <button type="button" class="cell" aria-label={`${text}: ${formatNumber(value)}`} onClick={() => open({ source: actorsOf(query, funnelStep, steps[0].breakdown_value), title })}>
        {formatNumber(value)}
      </button>
    ) : (
      formatNumber(value)
    );
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={`${name} as a table`}>
      <table class="data funnel-table">
        <caption>{name} as a table</caption>
        <thead>
          <tr>
            {broken && <th scope="col">Breakdown</th>}
            <th scope="col">Step</th>
            <th scope="col" class="num">Converted</th>
            <th scope="col" class="num">Of first</th>
            <th scope="col" class="num">Of previous</th>
            <th scope="col" class="num">Dropped off</th>
            <th scope="col" class="num">Avg time</th>
            <th scope="col" class="num">Median time</th>
          </tr>
        </thead>
        <tbody>
          {groups.flatMap((steps) =>
            steps.map((s, i) => {
              const before = i ? steps[i - 1].count : s.count;
              const where = broken ? ` (${breakdownText(s.breakdown_value?.[0])})` : "";
              return (
                <tr key={`${String(s.breakdown_value)}-${i}`}>
                  {broken && <td>{breakdownText(s.breakdown_value?.[0])}</td>}
                  <th scope="row">
                    {stepName(s, i)}
                    {!broken && (
                      <span class="step-links">
                        Paths after: <a data-reload href={pathsLink(query, i + 1)} aria-label={`Paths after step ${i + 1}`}>step</a>
                        {i > 0 && <>{" · "}<a data-reload href={pathsLink(query, -(i + 1))} aria-label={`Paths after dropping off before step ${i + 1}`}>drop-off</a></>}
                      </span>
                    )}
                  </th>
                  <td class="num">{button(`Converted at step ${i + 1}${where}`, s.count, i + 1, steps, `Reached step ${i + 1}: ${stepName(s, i)}${where}`)}</td>
                  <td class="num">{percent(s.count, steps[0].count)}</td>
                  <td class="num">{percent(s.count, before)}</td>
                  <td class="num">{i ? button(`Dropped off before step ${i + 1}${where}`, before - s.count, -(i + 1), steps, `Dropped off before step ${i + 1}: ${stepName(s, i)}${where}`) : "—"}</td>
                  <td class="num">{duration(s.average_conversion_time)}</td>
                  <td class="num">{duration(s.median_conversion_time)}</td>
                </tr>
              );
            }),
          )}
        </tbody>
      </table>
    </div>
  );
}

function Steps({ query, results, asTable, name, height, open, compact }: Props) {
  const groups: StepResult[][] = Array.isArray(results[0]) ? results : [results];
  if (!groups.length || !groups[0].length || groups.every((g) => !g[0].count)) return nothing;
  const labels = groups[0].map((s, i) => stepName(s, i));
  const table = <StepsTable groups={groups} query={query} open={open} name={name} />;
  if (asTable) return table;
  const chart =
    groups.length === 1 && groups[0][0].breakdown_value === undefined ? (
      <BarChart label={`${name} as a chart`} labels={labels} stacked height={height}
        notes={groups[0].map((s) => percent(s.count, groups[0][0].count))}
        series={[
          { name: "Converted", values: groups[0].map((s) => s.count), color: "var(--accent)",
            pick: (i) => open({ source: actorsOf(query, i + 1), title: `Reached step ${i + 1}: ${labels[i]}` }) },
          { name: "Dropped off", values: groups[0].map((s, i) => (i ? groups[0][i - 1].count - s.count : 0)), color: "color-mix(in srgb, var(--danger) 35%, transparent)",
            pick: (i) => open({ source: actorsOf(query, -(i + 1)), title: `Dropped off before step ${i + 1}: ${labels[i]}` }) },
        ]} />
    ) : (
      <BarChart label={`${name} as a chart`} labels={labels} height={height}
        series={groups.map((steps) => ({
          name: breakdownText(steps[0].breakdown_value?.[0]),
          values: steps.map((s) => s.count),
          pick: (i: number) => open({ source: actorsOf(query, i + 1, steps[0].breakdown_value), title: `Reached step ${i + 1}: ${labels[i]} (${breakdownText(steps[0].breakdown_value?.[0])})` }),
        }))} />
    );
  return <>{chart}{!compact && table}</>;
}

function TimeHistogram({ results, asTable, name, height, compact }: Props) {
  const answer = results as TimeToConvert;
  const bins = answer?.bins ?? [];
  if (!bins.some(([, n]) => n)) return <Empty title="Nobody converted">No actor went from the first chosen step to the last in this date range.</Empty>;
  const labels = bins.map(([s]) => duration(s));
  const table = (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={`${name} as a table`}>
      <table class="data ttc-table">
        <caption>{name} as a table</caption>
        <thead><tr><th scope="col">Converted within (from)</th><th scope="col" class="num">Seconds</th><th scope="col" class="num">Actors</th></tr></thead>
        <tbody>{bins.map(([s, n]) => <tr key={s}><th scope="row">{duration(s)}</th><td class="num">{formatNumber(s)}</td><td class="num">{formatNumber(n)}</td></tr>)}</tbody>
      </table>
    </div>
  );
  return (
    <>
      <p class="muted">Average time to convert: <strong>{duration(answer.average_conversion_time)}</strong></p>
      {!asTable && <BarChart label={`${name} as a chart`} labels={labels} height={height} series={[{ name: "Actors", values: bins.map(([, n]) => n) }]} />}
      {!compact && table}
    </>
  );
}

function ConversionTrend({ query, results, asTable, name, height, open, compact }: Props) {
  const rows: TrendResult[] = (results as any[]).map((r) => ({ ...r, label: "Conversion rate (%)" }));
  if (!rows.length || rows.every((r) => !r.data.length)) return nothing;
  // A period's point opens those who entered the funnel then (and converted).
  const pick = (row: number, bucket: number) => {
    const r = rows[row];
    const source: Record<string, unknown> = { kind: "FunnelsActorsQuery", source: query, funnelTrendsEntrancePeriodStart: r.days[bucket] };
    if (r.breakdown_value !== undefined) source.funnelStepBreakdown = r.breakdown_value;
    open({ source, title: `Converted after entering on ${r.labels[bucket]}` });
  };
  return (
    <>
      {!asTable && <TrendChart results={rows} display="ActionsLineGraph" height={height} label={`${name} as a chart`} pick={pick} />}
      {!compact && <TrendTable results={rows} caption={`${name} as a table`} pick={pick} total={false} />}
    </>
  );
}

export function FunnelView(props: Props) {
  const view = props.query.funnelsFilter?.funnelVizType ?? "steps";
  if (view === "time_to_convert") return <TimeHistogram {...props} />;
  if (view === "trends") return <ConversionTrend {...props} />;
  return <Steps {...props} />;
}
