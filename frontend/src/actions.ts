// Actions as the API stores them (magpie/query/actions.py says how a step
// matches), a step as a person reads it, and the trend that counts an action.
import { get } from "./api";
import type { PropertyFilter, TrendsQuery } from "./trends/query";

export type Matching = "contains" | "exact" | "regex";

export type ActionStep = {
  event?: string | null;
  url?: string | null;
  url_matching?: Matching | null;
  properties?: PropertyFilter[] | null;
  selector?: string | null;
  tag_name?: string | null;
  text?: string | null;
  text_matching?: Matching | null;
  href?: string | null;
  href_matching?: Matching | null;
};

export type Action = {
  id: number;
  name: string;
  description: string;
  steps: ActionStep[];
  tags: string[];
  created_at: string;
  updated_at: string;
};

export const actionsPath = (projectId: number) => `/api/projects/${projectId}/actions/`;
export const actionPage = (projectId: number, id: number | "new") => `/project/${projectId}/data-management/actions/${id}`;

/** Every action of the project (the list API pages at 1000). */
export function listActions(projectId: number): Promise<{ results: Action[] }> {
  return get(`${actionsPath(projectId)}?limit=1000`);
}

const VERBS: Record<Matching, string> = { contains: "contains", exact: "is", regex: "matches" };
const verb = (matching: Matching | null | undefined, fallback: Matching) => VERBS[matching ?? fallback] ?? "is";

/** "$pageview where URL contains /pricing", "$autocapture on button with text is “Buy”". */
export function stepSummary(step: ActionStep): string {
  const parts = [step.event || "Any event"];
  if (step.url) parts.push(`where URL ${verb(step.url_matching, "contains")} ${step.url}`);
  if (step.selector) parts.push(`on ${step.selector}`);
  else if (step.tag_name) parts.push(`on ${step.tag_name}`);
  if (step.text) parts.push(`with text ${verb(step.text_matching, "exact")} “${step.text}”`);
  if (step.href) parts.push(`with link ${verb(step.href_matching, "exact")} ${step.href}`);
  const filters = step.properties?.length ?? 0;
  if (filters) parts.push(`and ${filters} property filter${filters > 1 ? "s" : ""}`);
  return parts.join(" ");
}

/** The steps, joined the way they match: any one of them. */
export function stepsSummary(steps: ActionStep[]): string {
  return steps.length ? steps.map(stepSummary).join(" or ") : "No steps: matches no event";
}

/** The trend of the action's events, one number over ``dateFrom`` (its total). */
export function actionTrend(action: Pick<Action, "id" | "name">, dateFrom = "-30d"): TrendsQuery {
  return {
    kind: "TrendsQuery",
    series: [{ kind: "ActionsNode", id: action.id, name: action.name, math: "total" }],
    interval: "day",
    dateRange: { date_from: dateFrom, date_to: null },
    trendsFilter: { display: "BoldNumber" },
  };
}
