// Line, bar and area charts with uPlot (small and fast: a 10M-event trend is
// drawn in milliseconds once its numbers arrive). Bars and areas are stacked, as
// in PostHog: each series is drawn as the running total of those before it, and
// the legend shows its own numbers.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatNumber } from "../ui";
import { seriesName, type TrendResult } from "./query";

export const COLORS = [
  "#1d4aff", "#621da6", "#42827e", "#ce0e74", "#f14f58",
  "#7c440e", "#529a0a", "#0476fb", "#fe729e", "#35416b",
];

export function markDrawn(element: HTMLElement | null): void {
  if (!element) return;
  element.dataset.state = "drawn";
  // bench/ui.py reads this: navigation to a drawn chart.
  (window as any).__magpieChartDrawnAt = performance.now();
}

/** A bucket's label short enough to sit under a tick: "24-Nov-2026" → "24 Nov". */
export function shortLabel(label: string): string {
  return label.replace(/-(\d{4})/, "").replace("-", " ");
}

function cssColor(name: string, fallback: string): string {
  // Canvas cannot read CSS variables: resolve them once per drawing.
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function options(results: TrendResult[], display: string, width: number, height: number, original: number[][]): uPlot.Options {
  const stacked = display !== "ActionsLineGraph";
  const labels = results[0]?.labels ?? [];
  const bars = display === "ActionsBar" ? uPlot.paths.bars!({ size: [0.7, 60] }) : undefined;
  const order = stacked ? results.map((_, i) => i).reverse() : results.map((_, i) => i);
  const muted = cssColor("--muted", "#5b5f6b");
  return {
    width,
    height,
    // Bars sit on their bucket: half a bucket of room at each end.
    scales: { x: display === "ActionsBar" ? { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] } : { time: false }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.08 : 5] } },
    axes: [
      {
        values: (_u, splits) => splits.map((s) => (Number.isInteger(s) ? shortLabel(labels[s] ?? "") : "")),
        stroke: muted,
        space: 70,
        grid: { show: false },
        ticks: { stroke: "rgba(128,128,128,0.3)" },
      },
      {
        values: (_u, splits) => splits.map((s) => formatNumber(s)),
        stroke: muted,
        size: 56,
        grid: { stroke: "rgba(128,128,128,0.18)" },
        ticks: { show: false },
      },
    ],
    legend: { show: true },
    cursor: { points: { show: display !== "ActionsBar" } },
    series: [
      { label: "Date", value: (_u, v) => (v === null ? "" : labels[v] ?? "") },
      ...order.map((i) => ({
        label: seriesName(results[i]),
        stroke: COLORS[i % COLORS.length],
        width: display === "ActionsBar" ? 0 : 2,
        fill: stacked ? COLORS[i % COLORS.length] + (display === "ActionsBar" ? "" : "66") : undefined,
        paths: bars,
        points: { show: labels.length < 40 && display === "ActionsLineGraph" },
        value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) =>
          idx === null ? "" : formatNumber(original[i][idx]),
      })),
    ],
  };
}

function seriesData(results: TrendResult[], display: string): { data: uPlot.AlignedData; original: number[][] } {
  const original = results.map((r) => r.data.map(Number));
  const xs = (results[0]?.data ?? []).map((_, i) => i);
  let rows = original;
  if (display !== "ActionsLineGraph") {
    const running = xs.map(() => 0);
    rows = original.map((row) => row.map((v, j) => (running[j] += v)));
  }
  const ordered = display === "ActionsLineGraph" ? rows : [...rows].reverse();
  return { data: [xs, ...ordered], original };
}

/** A point clicked on a chart: the result row and the bucket. */
export type PickPoint = (row: number, bucket: number) => void;

/** The drawn series nearest to the cursor's value at its bucket (a stacked chart
 * draws running totals, so the nearest drawn line is the one clicked). */
function nearestSeries(plot: uPlot, bucket: number): number | null {
  const wanted = plot.posToVal(plot.cursor.top ?? 0, "y");
  let best: number | null = null;
  for (let s = 1; s < plot.data.length; s++) {
    const v = plot.data[s][bucket];
    if (v === null || v === undefined) continue;
    if (best === null || Math.abs(v - wanted) < Math.abs((plot.data[best][bucket] as number) - wanted)) best = s;
  }
  return best;
}

export function TrendChart({ results, display, height = 300, label, pick }: { results: TrendResult[]; display: string; height?: number; label: string; pick?: PickPoint }) {
  const box = useRef<HTMLDivElement>(null);
  const picked = useRef(pick); // the latest callback, without redrawing for a new one
  picked.current = pick;
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    element.dataset.state = "drawing";
    const { data, original } = seriesData(results, display);
    const plot = new uPlot(options(results, display, Math.max(element.clientWidth, 200), height, original), data, element);
    markDrawn(element);
    const order = display === "ActionsLineGraph" ? results.map((_, i) => i) : results.map((_, i) => i).reverse();
    const click = () => {
      const bucket = plot.cursor.idx;
      if (!picked.current || bucket === null || bucket === undefined) return;
      const drawnSeries = nearestSeries(plot, bucket);
      if (drawnSeries !== null) picked.current(order[drawnSeries - 1], bucket);
    };
    plot.over.addEventListener("click", click);
    if (pick) plot.over.style.cursor = "pointer";
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 200), height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [results, display, height, Boolean(pick)]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}
