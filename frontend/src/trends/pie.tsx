// A pie of each row's total (PostHog's ActionsPie), drawn as SVG: no chart
// library needed for a handful of slices.
import { useEffect, useRef } from "preact/hooks";
import { formatNumber } from "../ui";
import { COLORS, markDrawn } from "./chart";
import { seriesName, type TrendResult } from "./query";

export function Pie({ results, label }: { results: TrendResult[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => markDrawn(box.current), [results]);
  const slices = results.map((r, i) => ({ name: seriesName(r), value: Math.max(0, Number(r.count)), color: COLORS[i % COLORS.length] }));
  const total = slices.reduce((sum, s) => sum + s.value, 0);
  let angle = -Math.PI / 2;
  const arcs = slices.map((s) => {
    const share = total ? s.value / total : 0;
    const start = angle;
    angle += share * 2 * Math.PI;
    const large = share > 0.5 ? 1 : 0;
    const [x1, y1, x2, y2] = [Math.cos(start), Math.sin(start), Math.cos(angle), Math.sin(angle)];
    const d = share >= 0.9999 ? "M 0 -1 A 1 1 0 1 1 -0.0001 -1 Z" : `M 0 0 L ${x1} ${y1} A 1 1 0 ${large} 1 ${x2} ${y2} Z`;
    return { ...s, d, share };
  });
  return (
    <div class="pie" ref={box}>
      <svg viewBox="-1.05 -1.05 2.1 2.1" role="img" aria-label={label}>
        {total === 0 ? <circle r="1" fill="var(--border)" /> : arcs.map((a) => a.share > 0 && <path d={a.d} fill={a.color} key={a.name}><title>{`${a.name}: ${formatNumber(a.value)}`}</title></path>)}
      </svg>
      <ul class="legend">
        {arcs.map((a) => (
          <li key={a.name}>
            <span class="swatch" style={{ background: a.color }} aria-hidden="true" />
            <span class="name">{a.name}</span>
            <span class="num">{formatNumber(a.value)}</span>
            <span class="muted">{total ? `${((a.value / total) * 100).toFixed(1)}%` : ""}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
