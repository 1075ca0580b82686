// TrendsQuery as PostHog writes it, and its place in the URL (#q=).
export type PropertyFilter = {
  key: string;
  value?: unknown;
  operator?: string;
  type?: string;
};

type SeriesCommon = {
  custom_name?: string;
  math?: string;
  math_property?: string;
  properties?: PropertyFilter[];
};
/** What a series (or a funnel step) counts: one event (null: every event), or a
 * saved action by its id (``name`` is only for people reading the query). */
export type EventOrAction = { kind: "EventsNode"; event: string | null } | { kind: "ActionsNode"; id: number; name?: string };
export type Series = SeriesCommon & EventOrAction;

export type TrendsQuery = {
  kind: "TrendsQuery";
  series: Series[];
  interval?: string;
  dateRange?: { date_from?: string | null; date_to?: string | null };
  properties?: PropertyFilter[];
  breakdownFilter?: { breakdown?: string | null; breakdown_type?: string; breakdown_limit?: number };
  compareFilter?: { compare?: boolean };
  trendsFilter?: { display?: string; formula?: string | null };
  filterTestAccounts?: boolean;
};

export type HogQLQuery = { kind: "HogQLQuery"; query: string };
/** Any other insight kind (funnels, retention …): see insights/kinds.tsx. */
export type InsightQuery = { kind: string; dateRange?: TrendsQuery["dateRange"]; [field: string]: unknown };
export type AnyQuery = TrendsQuery | HogQLQuery | InsightQuery;

export const DISPLAYS: [string, string][] = [
  ["ActionsLineGraph", "Line chart"],
  ["ActionsBar", "Bar chart"],
  ["ActionsAreaGraph", "Area chart"],
  ["BoldNumber", "Number"],
  ["ActionsPie", "Pie chart"],
  ["ActionsTable", "Table"],
];

export const MATHS: [string, string][] = [
  ["total", "Total count"],
  ["dau", "Unique users"],
  ["weekly_active", "Weekly active users"],
  ["monthly_active", "Monthly active users"],
  ["unique_session", "Unique sessions"],
  ["sum", "Sum of a property"],
  ["avg", "Average of a property"],
  ["min", "Minimum of a property"],
  ["max", "Maximum of a property"],
  ["median", "Median of a property"],
  ["p90", "90th percentile of a property"],
  ["p95", "95th percentile of a property"],
  ["p99", "99th percentile of a property"],
];
export const PROPERTY_MATHS = new Set(["sum", "avg", "min", "max", "median", "p90", "p95", "p99"]);

export const DATE_PRESETS: [string, string][] = [
  ["-24h", "Last 24 hours"],
  ["-7d", "Last 7 days"],
  ["-14d", "Last 14 days"],
  ["-30d", "Last 30 days"],
  ["-90d", "Last 90 days"],
  ["-180d", "Last 180 days"],
  ["mStart", "This month"],
  ["-1mStart", "Since last month"],
  ["yStart", "Year to date"],
  ["all", "All time"],
];

export const OPERATORS: [string, string][] = [
  ["exact", "equals"],
  ["is_not", "does not equal"],
  ["icontains", "contains"],
  ["not_icontains", "does not contain"],
  ["regex", "matches regex"],
  ["gt", "greater than"],
  ["lt", "less than"],
  ["is_set", "is set"],
  ["is_not_set", "is not set"],
];

export function defaultTrend(): TrendsQuery {
  return {
    kind: "TrendsQuery",
    series: [{ kind: "EventsNode", event: "$pageview", math: "total" }],
    interval: "day",
    dateRange: { date_from: "-7d", date_to: null },
    trendsFilter: { display: "ActionsLineGraph" },
  };
}

/** The query a link carries: either the bare query or PostHog's InsightVizNode wrapper. */
export function unwrap(value: any): AnyQuery | null {
  if (value && typeof value === "object" && value.kind === "InsightVizNode") value = value.source;
  if (value && typeof value === "object" && value.kind === "DataTableNode") value = value.source;
  if (value && typeof value.kind === "string" && value.kind.endsWith("Query")) return value;
  return null;
}

export function fromHash(hash: string): AnyQuery | null {
  if (!hash.startsWith("#q=")) return null;
  try {
    return unwrap(JSON.parse(decodeURIComponent(hash.slice(3))));
  } catch {
    return null;
  }
}

export function toHash(query: AnyQuery): string {
  return "#q=" + encodeURIComponent(JSON.stringify(query));
}

/** A dashboard's date range, when it has one, wins over its tiles'. */
export function withDateRange(query: AnyQuery, range: TrendsQuery["dateRange"] | undefined): AnyQuery {
  if (query.kind === "HogQLQuery" || !range || !range.date_from) return query;
  return { ...query, dateRange: { date_from: range.date_from, date_to: range.date_to ?? null } };
}

export type TrendResult = {
  label: string;
  count: number;
  data: number[];
  days: string[];
  labels: string[];
  breakdown_value?: unknown;
  compare_label?: string;
  action?: { order?: number; custom_name?: string | null; name?: string };
};

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const letter = (i: number) => LETTERS[i] ?? String(i + 1);

const OTHER = "$$_posthog_breakdown_other_$$";
const NULL = "$$_posthog_breakdown_null_$$";

export function breakdownText(value: unknown): string {
  if (value === OTHER) return "Other";
  if (value === NULL || value === null || value === "") return "(none)";
  return String(value);
}

/** One name per result row: its series, breakdown value and compared period. */
export function seriesName(result: TrendResult): string {
  const base = result.action?.custom_name || result.label;
  const parts = [base];
  if (result.breakdown_value !== undefined) parts.push(breakdownText(result.breakdown_value));
  if (result.compare_label) parts.push(result.compare_label);
  return parts.join(" · ");
}
