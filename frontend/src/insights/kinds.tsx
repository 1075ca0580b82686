// Every insight kind the insight page can build, draw and save, as data: its
// name, a first query, the query as the API takes it, its builder and its view.
// A new kind is one more entry.
import type { ComponentType } from "preact";
import { FunnelsBuilder } from "../funnels/builder";
import { cleanFunnel, defaultFunnel } from "../funnels/query";
import { FunnelView } from "../funnels/view";
import { cleanQuery, TrendsBuilder } from "../trends/builder";
import { breakdownText, defaultTrend, type TrendResult, type TrendsQuery } from "../trends/query";
import { TrendView } from "../trends/view";
import type { OpenActors } from "./actors";
import { defaultLifecycle, LifecycleBuilder, LifecycleView } from "./lifecycle";
import { defaultPaths, PathsBuilder, PathsView } from "./paths";
import { defaultRetention, RetentionBuilder, RetentionView } from "./retention";
import { defaultStickiness, StickinessBuilder, StickinessView } from "./stickiness";

export type BuilderProps = { query: any; onChange: (next: any) => void; projectId: number };
export type ViewProps = {
  query: any; results: any; asTable: boolean; name: string; height?: number; open: OpenActors;
  compact?: boolean; // a dashboard tile: the chart without its table
};

export type InsightKind = {
  kind: string;
  label: string;
  make: () => any;
  clean: (query: any) => any;
  Builder: ComponentType<BuilderProps>;
  View: ComponentType<ViewProps>;
};

function TrendsView({ query, results, asTable, name, height, open }: ViewProps) {
  const trend = query as TrendsQuery;
  const rows = results as TrendResult[];
  // A formula's numbers belong to no series: they have no actors.
  const pick = trend.trendsFilter?.formula
    ? undefined
    : (row: number, bucket: number) => {
        const r = rows[row];
        const source: Record<string, unknown> = { kind: "InsightActorsQuery", source: trend, series: r.action?.order ?? 0, day: r.days[bucket] };
        if (r.breakdown_value !== undefined) source.breakdown = r.breakdown_value;
        if (r.compare_label) source.compare = r.compare_label;
        const where = r.breakdown_value !== undefined ? ` (${breakdownText(r.breakdown_value)})` : "";
        open({ source, title: `${r.action?.custom_name || r.label}${where} on ${r.labels[bucket]}` });
      };
  return <TrendView results={rows} display={trend.trendsFilter?.display ?? "ActionsLineGraph"} asTable={asTable} height={height} name={name} pick={pick} />;
}

const same = (query: any) => query;
/** Empty start and end points are no points at all. */
function cleanPaths(query: any) {
  const f = { ...query.pathsFilter };
  for (const key of ["startPoint", "endPoint"]) if (!f[key]) delete f[key];
  return { ...query, pathsFilter: f };
}

export const KINDS: InsightKind[] = [
  { kind: "TrendsQuery", label: "Trends", make: defaultTrend, clean: cleanQuery, Builder: TrendsBuilder, View: TrendsView },
  { kind: "FunnelsQuery", label: "Funnels", make: defaultFunnel, clean: cleanFunnel, Builder: FunnelsBuilder, View: FunnelView },
  { kind: "RetentionQuery", label: "Retention", make: defaultRetention, clean: same, Builder: RetentionBuilder, View: RetentionView },
  { kind: "LifecycleQuery", label: "Lifecycle", make: defaultLifecycle, clean: same, Builder: LifecycleBuilder, View: LifecycleView },
  { kind: "StickinessQuery", label: "Stickiness", make: defaultStickiness, clean: same, Builder: StickinessBuilder, View: StickinessView },
  { kind: "PathsQuery", label: "Paths", make: defaultPaths, clean: cleanPaths, Builder: PathsBuilder, View: PathsView },
];

export const kindOf = (kind: string | undefined): InsightKind | undefined => KINDS.find((k) => k.kind === kind);
