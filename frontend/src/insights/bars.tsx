// Bars as SVG, for the insights whose numbers are categories rather than a time
// line: lifecycle (stacked, dormant below zero), stickiness, time to convert.
// Every bar can be a button: clicking it opens the actors behind it.
import { useEffect, useRef } from "preact/hooks";
import { COLORS, markDrawn } from "../trends/chart";
import { formatNumber } from "../ui";

export type BarSeries = { name: string; values: number[]; color?: string; pick?: (index: number) => void };

const W = 760;
const PAD = { left: 56, right: 12, top: 22, bottom: 34 };

/** About five round steps covering ``[low, high]``. */
export function ticks(low: number, high: number, whole = true): number[] {
  const span = Math.max(high - low, 1);
  const raw = whole ? Math.max(span / 5, 1) : span / 5; // counts of actors have no fractions
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? power * 10;
  const out: number[] = [];
  for (let v = Math.floor(low / step) * step; v <= high + step / 2; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

export function BarChart({ labels, series, stacked = false, label, height = 260, format = formatNumber, notes }: {
  labels: string[]; series: BarSeries[]; stacked?: boolean; label: string; height?: number; format?: (v: number) => string;
  notes?: string[]; // a line above each group of bars, e.g. a funnel step's conversion rate
}) {
  const box = useRef<SVGSVGElement>(null);
  useEffect(() => markDrawn(box.current as unknown as HTMLElement), [labels, series]);
  const H = height;
  // A stack grows up from zero with its positive values and down with its negative ones.
  const extent = labels.map((_, i) => {
    const vs = series.map((s) => Number(s.values[i] ?? 0));
    return stacked
      ? [vs.filter((v) => v < 0).reduce((a, b) => a + b, 0), vs.filter((v) => v > 0).reduce((a, b) => a + b, 0)]
      : [Math.min(0, ...vs), Math.max(0, ...vs)];
  });
  const axis = ticks(Math.min(0, ...extent.map((e) => e[0])), Math.max(1, ...extent.map((e) => e[1])));
  const [low, high] = [axis[0], axis[axis.length - 1]];
  const y = (v: number) => PAD.top + ((high - v) / (high - low || 1)) * (H - PAD.top - PAD.bottom);
  const slot = (W - PAD.left - PAD.right) / Math.max(labels.length, 1);
  const groupWidth = slot * 0.72;
  const barWidth = stacked ? groupWidth : groupWidth / Math.max(series.length, 1);
  const every = Math.ceil(labels.length / 14); // room for about 14 labels under the axis
  const bars = labels.flatMap((category, i) => {
    let up = 0;
    let down = 0;
    return series.map((s, k) => {
      const v = Number(s.values[i] ?? 0);
      let from = 0;
      if (stacked) {
        from = v >= 0 ? up : down;
        if (v >= 0) up += v;
        else down += v;
      }
      const [a, b] = [y(from), y(from + v)];
      const x = PAD.left + slot * i + (slot - groupWidth) / 2 + (stacked ? 0 : barWidth * k);
      const name = `${s.name}, ${category}: ${format(v)}`;
      const clickable = Boolean(s.pick) && v !== 0;
      return (
        <rect key={`${i}-${k}`} x={x} y={Math.min(a, b)} width={Math.max(barWidth - 1, 1)} height={Math.max(Math.abs(b - a), v ? 1 : 0)}
          style={{ fill: s.color ?? COLORS[k % COLORS.length] }} aria-label={name}
          role={clickable ? "button" : undefined} tabIndex={clickable ? 0 : undefined}
          onClick={clickable ? () => s.pick!(i) : undefined}
          onKeyDown={clickable ? (e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), s.pick!(i)) : undefined}>
          <title>{name}</title>
        </rect>
      );
    });
  });
  return (
    <div>
      <svg class="bars" ref={box} viewBox={`0 0 ${W} ${H}`} role="group" aria-label={label}>
        {axis.map((t) => (
          <g key={t}>
            <line class={t === 0 ? "zero" : "axis"} x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} />
            <text x={PAD.left - 6} y={y(t) + 4} text-anchor="end">{format(t)}</text>
          </g>
        ))}
        {bars}
        {notes?.map((note, i) => (
          <text key={`n${i}`} class="value" x={PAD.left + slot * i + slot / 2} y={y(extent[i][1]) - 5} text-anchor="middle">{note}</text>
        ))}
        {labels.map((category, i) => i % every === 0 && (
          <text key={i} x={PAD.left + slot * i + slot / 2} y={H - PAD.bottom + 16} text-anchor="middle">{category}</text>
        ))}
      </svg>
      {series.length > 1 && (
        <ul class="legend inline">
          {series.map((s, k) => (
            <li key={s.name}><span class="swatch" style={{ background: s.color ?? COLORS[k % COLORS.length] }} aria-hidden="true" />{s.name}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
