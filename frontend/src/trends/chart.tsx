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

export function TrendChart({ results, display, height = 300, label }: { results: TrendResult[]; display: string; height?: number; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    element.dataset.state = "drawing";
    const { data, original } = seriesData(results, display);
    const plot = new uPlot(options(results, display, Math.max(element.clientWidth, 200), height, original), data, element);
    markDrawn(element);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 200), height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [results, display, height]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}
