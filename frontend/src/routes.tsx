// Every page of the app, as data: a URL pattern (PostHog's, so links and habits
// carry over), the nav entry, and the page module, loaded when first needed.
// Experiments, surveys: one more entry each.
import type { ComponentType } from "preact";
import { compile, type Params } from "./router";

export type PageProps = { projectId: number; params: Params };
type Loader = () => Promise<{ default: ComponentType<PageProps> }>;

export type RouteDef = {
  pattern: string;
  title: string;
  load: Loader;
  nav?: { label: string; path: string; section?: string }; // path under /project/{id}
  regex: RegExp;
};

const def = (pattern: string, title: string, load: Loader, nav?: RouteDef["nav"]): RouteDef => ({
  pattern,
  title,
  load,
  nav,
  regex: compile(`/project/:projectId${pattern}`),
});

export const ROUTES: RouteDef[] = [
  def("", "Home", () => import("./pages/home")),
  def("/onboarding", "Get started", () => import("./pages/onboarding"), {
    label: "Get started",
    path: "/onboarding",
  }),
  def("/dashboard", "Dashboards", () => import("./pages/dashboards"), {
    label: "Dashboards",
    path: "/dashboard",
  }),
  def("/dashboard/:dashboardId", "Dashboard", () => import("./pages/dashboard")),
  def("/insights", "Insights", () => import("./pages/insights"), {
    label: "Insights",
    path: "/insights",
  }),
  def("/insights/new", "New insight", () => import("./pages/insight")),
  def("/insights/:shortId", "Insight", () => import("./pages/insight")),
  def("/sql", "SQL", () => import("./pages/sql"), { label: "SQL", path: "/sql" }),
  def("/feature_flags", "Feature flags", () => import("./pages/flags"), {
    label: "Feature flags",
    path: "/feature_flags",
    section: "Release",
  }),
  def("/feature_flags/new", "New feature flag", () => import("./pages/flag")),
  def("/feature_flags/:flagId", "Feature flag", () => import("./pages/flag")),
  def("/events", "Live events", () => import("./pages/events"), {
    label: "Live events",
    path: "/events",
    section: "Data",
  }),
  def("/persons", "Persons", () => import("./pages/persons"), {
    label: "Persons",
    path: "/persons",
    section: "Data",
  }),
  def("/person/:distinctId", "Person", () => import("./pages/person")),
  def("/cohorts", "Cohorts", () => import("./pages/cohorts"), {
    label: "Cohorts",
    path: "/cohorts",
    section: "Data",
  }),
  def("/cohorts/new", "New cohort", () => import("./pages/cohort")),
  def("/cohorts/:cohortId", "Cohort", () => import("./pages/cohort")),
  def("/data-management/actions", "Actions", () => import("./pages/actions"), {
    label: "Actions",
    path: "/data-management/actions",
    section: "Data",
  }),
  def("/data-management/actions/new", "New action", () => import("./pages/action")),
  def("/data-management/actions/:actionId", "Action", () => import("./pages/action")),
  def("/billing", "Billing", () => import("./pages/billing"), {
    label: "Billing",
    path: "/billing",
    section: "Settings",
  }),
  def("/settings", "Project settings", () => import("./pages/settings"), {
    label: "Project settings",
    path: "/settings",
    section: "Settings",
  }),
];

export function findRoute(path: string): { route: RouteDef; params: Params } | null {
  for (const route of ROUTES) {
    const found = route.regex.exec(path);
    if (found) {
      const params: Params = {};
      for (const [k, v] of Object.entries(found.groups ?? {})) params[k] = decodeURIComponent(v);
      return { route, params };
    }
  }
  return null;
}
