// FunnelsQuery as PostHog writes it, and what its three views answer.
import type { EventOrAction, PropertyFilter } from "../trends/query";
import type { DateRange } from "../insights/date-range";

export type FunnelStep = EventOrAction & { custom_name?: string; properties?: PropertyFilter[] };

export type FunnelsFilter = {
  funnelVizType?: "steps" | "time_to_convert" | "trends";
  funnelOrderType?: "ordered" | "strict" | "unordered";
  funnelWindowInterval?: number;
  funnelWindowIntervalUnit?: string;
  funnelFromStep?: number;
  funnelToStep?: number;
  binCount?: number;
};

export type FunnelsQuery = {
  kind: "FunnelsQuery";
  series: FunnelStep[];
  dateRange?: DateRange;
  interval?: string;
  properties?: PropertyFilter[];
  filterTestAccounts?: boolean;
  breakdownFilter?: { breakdown?: string | null; breakdown_type?: string; breakdown_limit?: number };
  funnelsFilter?: FunnelsFilter;
};

export type StepResult = {
  action_id: string | null;
  name: string;
  custom_name?: string | null;
  order: number;
  count: number;
  average_conversion_time: number | null;
  median_conversion_time: number | null;
  breakdown_value?: unknown[];
};

export type TimeToConvert = { bins: [number, number][]; average_conversion_time: number | null };

export function defaultFunnel(): FunnelsQuery {
  return {
    kind: "FunnelsQuery",
    series: [
      { kind: "EventsNode", event: "$pageview" },
      { kind: "EventsNode", event: "signed_up" },
    ],
    dateRange: { date_from: "-30d", date_to: null },
    funnelsFilter: { funnelVizType: "steps", funnelOrderType: "ordered", funnelWindowInterval: 14, funnelWindowIntervalUnit: "day" },
  };
}

/** The query as the API takes it: empty filter rows and an empty breakdown left out. */
export function cleanFunnel(query: FunnelsQuery): FunnelsQuery {
  const clean = (filters?: PropertyFilter[]) => (filters ?? []).filter((f) => String(f.key ?? "").trim());
  const out: FunnelsQuery = {
    ...query,
    series: query.series.map((s) => ({ ...s, properties: clean(s.properties) })),
    properties: clean(query.properties),
  };
  if (!out.breakdownFilter?.breakdown) delete out.breakdownFilter;
  return out;
}

export const stepName = (step: { name: string; custom_name?: string | null }, i: number) => `${i + 1}. ${step.custom_name || step.name || "Any event"}`;

/** "42 s", "3.5 min", "2.1 h", "4.2 d": a conversion time as a person reads it. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1).replace(/\.0$/, "")} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1).replace(/\.0$/, "")} h`;
  return `${(seconds / 86400).toFixed(1).replace(/\.0$/, "")} d`;
}

export const percent = (part: number, whole: number) => (whole ? `${((part / whole) * 100).toFixed(1).replace(/\.0$/, "")}%` : "0%");
