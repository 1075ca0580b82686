// Paths: the steps actors took, as a Sankey diagram drawn in SVG: a column per
// step, a node per item, an edge as wide as the actors who took it. An edge opens
// the actors who took it.
import { useEffect, useRef } from "preact/hooks";
import { DateRangeFields } from "./date-range";
import type { BuilderProps, ViewProps } from "./kinds";
import { COLORS, markDrawn } from "../trends/chart";
import { Empty, Field, formatNumber } from "../ui";
import { duration } from "../funnels/query";

type Edge = { source: string; target: string; value: number; average_conversion_time: number | null };

export const defaultPaths = () => ({
  kind: "PathsQuery",
  dateRange: { date_from: "-7d", date_to: null },
  pathsFilter: { includeEventTypes: ["$pageview"], stepLimit: 5, edgeLimit: 50 },
});

const TYPES: [string, string][] = [["$pageview", "Pageviews (by URL)"], ["$screen", "Screens"], ["custom_event", "Custom events"], ["hogql", "An expression (HogQL)"]];

export function PathsBuilder({ query, onChange }: BuilderProps) {
  const f = query.pathsFilter ?? {};
  const set = (change: Record<string, unknown>) => onChange({ ...query, pathsFilter: { ...f, ...change } });
  const types: string[] = f.includeEventTypes ?? [];
  const text = (key: string) => (e: Event) => set({ [key]: (e.target as HTMLInputElement).value || undefined });
  return (
    <form class="builder" onSubmit={(e) => e.preventDefault()} aria-label="Paths builder">
      <fieldset class="checks">
        <legend>What a step is</legend>
        {TYPES.map(([value, label]) => (
          <label class="check" key={value}>
            <input type="checkbox" checked={types.includes(value)}
              onChange={(e) => set({ includeEventTypes: (e.target as HTMLInputElement).checked ? [...types, value] : types.filter((t) => t !== value) })} />
            {label}
          </label>
        ))}
        <div class="row">
          <Field label="Start at" id="paths-start" hint="A URL or event name; empty for anywhere">
            <input id="paths-start" value={f.startPoint ?? ""} onInput={text("startPoint")} />
          </Field>
          <Field label="End at" id="paths-end">
            <input id="paths-end" value={f.endPoint ?? ""} onInput={text("endPoint")} />
          </Field>
          <Field label="Steps" id="paths-steps">
            <input id="paths-steps" type="number" min={2} max={20} value={f.stepLimit ?? 5} onInput={(e) => set({ stepLimit: Number((e.target as HTMLInputElement).value) || 5 })} />
          </Field>
        </div>
        {types.includes("hogql") && (
          <div class="row">
            <Field label="Step expression" id="paths-hogql" hint="Each event's step, e.g. properties.$host (empty: the event's name)">
              <input id="paths-hogql" value={f.pathsHogQLExpression ?? ""} onChange={text("pathsHogQLExpression")} />
            </Field>
          </div>
        )}
        <label class="check">
          <input type="checkbox" checked={Boolean(f.pathReplacements)} onChange={(e) => set({ pathReplacements: (e.target as HTMLInputElement).checked || undefined })} />
          Apply the project's path cleaning rules
        </label>
      </fieldset>
      {query.funnelPathsFilter && <FunnelPathsFields query={query} onChange={onChange} />}
      <fieldset>
        <legend>Time</legend>
        <div class="row"><DateRangeFields value={query.dateRange} onChange={(dateRange) => onChange({ ...query, dateRange })} /></div>
      </fieldset>
    </form>
  );
}

const FUNNEL_PATH_TYPES: [string, string][] = [
  ["funnel_path_after_step", "After the step"],
  ["funnel_path_before_step", "Before the step"],
  ["funnel_path_between_steps", "Between the step before and the step"],
];

/** The funnel these paths follow (a funnel's "Paths after" link sets it): which
 * step, which side of it, or none (back to everyone's paths). */
function FunnelPathsFields({ query, onChange }: Omit<BuilderProps, "projectId">) {
  const funnel = query.funnelPathsFilter;
  const steps: number = funnel.funnelSource?.series?.length ?? 2;
  const set = (change: Record<string, unknown>) => onChange({ ...query, funnelPathsFilter: { ...funnel, ...change } });
  const { funnelPathsFilter: _, ...withoutFunnel } = query;
  return (
    <fieldset>
      <legend>Funnel's actors</legend>
      <div class="row">
        <Field label="Paths" id="paths-funnel-type">
          <select id="paths-funnel-type" value={funnel.funnelPathType ?? "funnel_path_after_step"} onChange={(e) => set({ funnelPathType: (e.target as HTMLSelectElement).value })}>
            {FUNNEL_PATH_TYPES.map(([v, t]) => <option value={v} key={v}>{t}</option>)}
          </select>
        </Field>
        <Field label="Funnel step" id="paths-funnel-step" hint={`1 to ${steps}; negative: those who dropped off before it`}>
          <input id="paths-funnel-step" type="number" min={-steps} max={steps} value={funnel.funnelStep ?? 1}
            onChange={(e) => set({ funnelStep: Number((e.target as HTMLInputElement).value) || 1 })} />
        </Field>
      </div>
      <button type="button" class="link" onClick={() => onChange(withoutFunnel)}>Show everyone's paths instead</button>
    </fieldset>
  );
}

const step = (key: string) => Number(key.split("_")[0]);
const item = (key: string) => key.slice(key.indexOf("_") + 1);

type Node = { key: string; column: number; value: number; x: number; y: number; h: number; out: number; in: number };

/** Columns of nodes, each as tall as the larger of what comes in and goes out. */
function layout(edges: Edge[], width: number, height: number) {
  const nodes = new Map<string, Node>();
  const node = (key: string) => {
    if (!nodes.has(key)) nodes.set(key, { key, column: step(key), value: 0, x: 0, y: 0, h: 0, out: 0, in: 0 });
    return nodes.get(key)!;
  };
  const ins = new Map<string, number>();
  const outs = new Map<string, number>();
  for (const e of edges) {
    node(e.source);
    node(e.target);
    outs.set(e.source, (outs.get(e.source) ?? 0) + e.value);
    ins.set(e.target, (ins.get(e.target) ?? 0) + e.value);
  }
  for (const n of nodes.values()) n.value = Math.max(ins.get(n.key) ?? 0, outs.get(n.key) ?? 0);
  const columns = [...new Set([...nodes.values()].map((n) => n.column))].sort((a, b) => a - b);
  const gap = 14;
  const byColumn = columns.map((c) => [...nodes.values()].filter((n) => n.column === c).sort((a, b) => b.value - a.value));
  // A few actors should not fill the whole height: a column takes at most 70% of it.
  const scale = Math.min(...byColumn.map((col) => (height * 0.7 - gap * (col.length - 1)) / Math.max(col.reduce((s, n) => s + n.value, 0), 1)));
  const nodeWidth = 12;
  const spacing = columns.length > 1 ? (width - nodeWidth) / (columns.length - 1) : 0;
  byColumn.forEach((col, i) => {
    let y = 0;
    for (const n of col) {
      n.x = i * spacing;
      n.y = y;
      n.h = Math.max(n.value * scale, 2);
      y += n.h + gap;
    }
  });
  return { nodes, scale, nodeWidth };
}

export function PathsView({ query, results, asTable, name, height, open, compact }: ViewProps) {
  const edges = results as Edge[];
  const box = useRef<SVGSVGElement>(null);
  useEffect(() => markDrawn(box.current as unknown as HTMLElement), [results]);
  if (!edges.length) return <Empty title="No paths in this range">No actor took two steps in this date range: try a longer range or other step types.</Empty>;
  const actorsOf = (e: Edge) =>
    open({
      source: { kind: "InsightActorsQuery", source: { ...query, pathsFilter: { ...query.pathsFilter, pathStartKey: e.source, pathEndKey: e.target } } },
      title: `${item(e.source)} → ${item(e.target)} (step ${step(e.source)} to ${step(e.target)})`,
    });
  // A node after the first step opens those whose path ends there (left at it).
  const leftAt = (key: string) =>
    open({
      source: { kind: "InsightActorsQuery", source: { ...query, pathsFilter: { ...query.pathsFilter, pathDropoffKey: key } } },
      title: `Left at ${item(key)} (step ${step(key)})`,
    });
  const table = (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={`${name} as a table`}>
      <table class="data paths-table">
        <caption>{name} as a table</caption>
        <thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col" class="num">Actors</th><th scope="col" class="num">Average time</th></tr></thead>
        <tbody>
          {edges.map((e) => (
            <tr key={`${e.source}>${e.target}`}>
              <th scope="row">{e.source}</th>
              <td>{e.target}</td>
              <td class="num"><button type="button" class="cell" aria-label={`Actors from ${e.source} to ${e.target}: ${formatNumber(e.value)}`} onClick={() => actorsOf(e)}>{formatNumber(e.value)}</button></td>
              <td class="num">{duration(e.average_conversion_time === null ? null : e.average_conversion_time / 1000)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
  if (asTable) return table;
  const [W, H, labelRoom] = [760, height ?? 320, 150];
  const { nodes, scale, nodeWidth } = layout(edges, W - labelRoom, H);
  const outAt = new Map<string, number>();
  const inAt = new Map<string, number>();
  const color = new Map<string, string>();
  const colorOf = (key: string) => {
    const name = item(key);
    if (!color.has(name)) color.set(name, COLORS[color.size % COLORS.length]);
    return color.get(name)!;
  };
  return (
    <>
      <svg class="bars sankey" ref={box} viewBox={`-4 -4 ${W + 8} ${H + 8}`} role="group" aria-label={`${name} as a chart`}>
        {edges.map((e) => {
          const [s, t] = [nodes.get(e.source)!, nodes.get(e.target)!];
          const width = Math.max(e.value * scale, 1);
          const y0 = s.y + (outAt.get(s.key) ?? 0); // the band's top at each end
          const y1 = t.y + (inAt.get(t.key) ?? 0);
          outAt.set(s.key, (outAt.get(s.key) ?? 0) + width);
          inAt.set(t.key, (inAt.get(t.key) ?? 0) + width);
          const [x0, x1] = [s.x + nodeWidth, t.x];
          const mid = (x0 + x1) / 2;
          const label = `${item(e.source)} → ${item(e.target)}, step ${step(e.source)}: ${formatNumber(e.value)}`;
          return (
            <path key={`${e.source}>${e.target}`}
              d={`M ${x0} ${y0} C ${mid} ${y0}, ${mid} ${y1}, ${x1} ${y1} L ${x1} ${y1 + width} C ${mid} ${y1 + width}, ${mid} ${y0 + width}, ${x0} ${y0 + width} Z`}
              style={{ fill: colorOf(e.source), fillOpacity: 0.35 }}
              role="button" tabIndex={0} aria-label={label} onClick={() => actorsOf(e)}
              onKeyDown={(k) => (k.key === "Enter" || k.key === " ") && (k.preventDefault(), actorsOf(e))}>
              <title>{label}</title>
            </path>
          );
        })}
        {[...nodes.values()].map((n) => (
          <g key={n.key}>
            {n.column > 1 ? (
              <rect x={n.x} y={n.y} width={nodeWidth} height={n.h} style={{ fill: colorOf(n.key), cursor: "pointer" }}
                role="button" tabIndex={0} aria-label={`Who left at ${item(n.key)}, step ${n.column}`} onClick={() => leftAt(n.key)}
                onKeyDown={(k) => (k.key === "Enter" || k.key === " ") && (k.preventDefault(), leftAt(n.key))}>
                <title>{`${n.key}: ${formatNumber(n.value)}; click for who left here`}</title>
              </rect>
            ) : (
              <rect x={n.x} y={n.y} width={nodeWidth} height={n.h} style={{ fill: colorOf(n.key) }}><title>{`${n.key}: ${formatNumber(n.value)}`}</title></rect>
            )}
            <text x={n.x + nodeWidth + 4} y={n.y + Math.min(n.h / 2, 12) + 4}>{item(n.key).length > 22 ? item(n.key).slice(0, 21) + "…" : item(n.key)}</text>
          </g>
        ))}
      </svg>
      {!compact && table}
    </>
  );
}
