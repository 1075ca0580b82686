// A trend's answer as PostHog would show it, chosen by trendsFilter.display.
import { useEffect, useRef } from "preact/hooks";
import { Empty, formatNumber } from "../ui";
import { markDrawn, TrendChart, type PickPoint } from "./chart";
import { Pie } from "./pie";
import { seriesName, type TrendResult } from "./query";
import { TrendTable } from "./table";

function BoldNumber({ results }: { results: TrendResult[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => markDrawn(box.current), [results]);
  const current = results.filter((r) => r.compare_label !== "previous");
  const previous = results.find((r) => r.compare_label === "previous");
  const main = current[0];
  const change = previous && previous.count ? ((main.count - previous.count) / previous.count) * 100 : null;
  return (
    <div class="bold-number" ref={box}>
      <div class="value" aria-label={`${seriesName(main)}: ${formatNumber(main.count)}`}>
        {formatNumber(main.count)}
      </div>
      <div class="muted">{seriesName(main)}</div>
      {change !== null && (
        <div class={change >= 0 ? "up" : "down"}>
          {change >= 0 ? "▲" : "▼"} {Math.abs(change).toFixed(1)}% on the previous period ({formatNumber(previous!.count)})
        </div>
      )}
      {current.length > 1 && (
        <ul class="others">
          {current.slice(1).map((r, i) => (
            <li key={i}>
              {seriesName(r)}: <strong>{formatNumber(r.count)}</strong>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function TrendView({ results, display, asTable = false, height, name, pick }: { results: TrendResult[]; display: string; asTable?: boolean; height?: number; name: string; pick?: PickPoint }) {
  if (!results.length || results.every((r) => !r.data.length))
    return (
      <Empty title="No data for this query">
        Try a longer date range, or check that the event name is one your project receives.
      </Empty>
    );
  const nothing = results.every((r) => !r.count && r.data.every((v) => !v));
  const note = nothing && (
    <p class="muted" role="note">
      No matching events in this date range: a longer range, or another event, may find some.
    </p>
  );
  return (
    <>
      {note}
      {drawn(results, display, asTable, name, height, pick)}
    </>
  );
}

function drawn(results: TrendResult[], display: string, asTable: boolean, name: string, height?: number, pick?: PickPoint) {
  if (asTable || display === "ActionsTable") return <TrendTable results={results} caption={`${name} as a table`} pick={pick} />;
  if (display === "BoldNumber") return <BoldNumber results={results} />;
  if (display === "ActionsPie") return <Pie results={results} label={`${name} as a pie chart`} />;
  return <TrendChart results={results} display={display} height={height} label={`${name} as a chart`} pick={pick} />;
}
