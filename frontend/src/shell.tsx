// The frame around every page: navigation, project switcher, the user and "Log out".
import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { csrfToken, currentUser, get } from "./api";
import { navigate, useLocation } from "./router";
import { findRoute, ROUTES, type PageProps } from "./routes";
import { ErrorBox, Loading } from "./ui";

export type Project = {
  id: number;
  name: string;
  api_token: string;
  timezone: string;
  week_start_day: number;
  test_account_filters: any[];
};

let projectsCache: Promise<{ results: Project[] }> | null = null;
export function projects(refresh = false): Promise<{ results: Project[] }> {
  if (!projectsCache || refresh) projectsCache = get("/api/projects/");
  return projectsCache;
}

const loaded = new Map<string, ComponentType<PageProps>>();

function Logo() {
  return (
    <svg width="24" height="24" viewBox="0 0 32 32" aria-hidden="true">
      <circle cx="16" cy="16" r="15" fill="currentColor" />
      <path d="M9 21 L16 9 L23 21 Z" fill="var(--bg)" />
      <circle cx="16" cy="17" r="3" fill="var(--accent)" />
    </svg>
  );
}

function ProjectSwitcher({ projectId, list }: { projectId: number; list: Project[] }) {
  const onChange = (event: Event) => {
    const next = (event.target as HTMLSelectElement).value;
    const rest = location.pathname.replace(/^\/project\/\d+/, "");
    // A page of one project's thing (a dashboard, a person) has no twin elsewhere.
    const page = /^\/(dashboard|insights|person|cohorts|feature_flags|data-management\/actions)\/./.test(rest) ? "" : rest;
    navigate(`/project/${next}${page}`);
  };
  return (
    <div class="switcher">
      <label for="project-switcher">Project</label>
      <select id="project-switcher" value={String(projectId)} onChange={onChange}>
        {list.map((p) => (
          <option value={String(p.id)} key={p.id}>
            {p.name}
          </option>
        ))}
      </select>
    </div>
  );
}

function Nav({ projectId, path }: { projectId: number; path: string }) {
  const sections = new Map<string, typeof ROUTES>();
  for (const route of ROUTES) {
    if (!route.nav) continue;
    const section = route.nav.section ?? "Product analytics";
    sections.set(section, [...(sections.get(section) ?? []), route]);
  }
  return (
    <nav aria-label="Main">
      {[...sections].map(([section, routes]) => (
        <div class="nav-section" key={section}>
          <div class="nav-title">{section}</div>
          <ul>
            {routes.map((route) => {
              const href = `/project/${projectId}${route.nav!.path}`;
              const current = path === href || path.startsWith(href + "/");
              return (
                <li key={href}>
                  <a href={href} aria-current={current ? "page" : undefined}>
                    {route.nav!.label}
                  </a>
                </li>
              );
            })}
          </ul>
        </div>
      ))}
    </nav>
  );
}

export function Shell() {
  const path = useLocation();
  const found = findRoute(path);
  const projectId = Number(found?.params.projectId ?? /^\/project\/(\d+)/.exec(path)?.[1] ?? 0);
  const [list, setList] = useState<Project[] | null>(null);
  const [listError, setListError] = useState<unknown>(null);
  const [, setTick] = useState(0);
  const [loadError, setLoadError] = useState<unknown>(null);

  useEffect(() => {
    projects().then((r) => setList(r.results), setListError);
  }, []);

  const key = found?.route.pattern;
  useEffect(() => {
    setLoadError(null);
    if (found && !loaded.has(found.route.pattern)) {
      found.route.load().then(
        (module) => {
          loaded.set(found.route.pattern, module.default);
          setTick((t) => t + 1);
        },
        (error) => setLoadError(error),
      );
    }
  }, [key]);

  const Page = found ? loaded.get(found.route.pattern) : undefined;
  const known = list?.some((p) => p.id === projectId);
  let body;
  if (listError) body = <ErrorBox error={listError} title="Could not load your projects" />;
  else if (!list) body = <Loading what="Loading your projects" />;
  else if (!known)
    body = (
      <ErrorBox
        title="No such project"
        error={`There is no project ${projectId}. Pick one in the project switcher.`}
      />
    );
  else if (!found) body = <ErrorBox title="Page not found" error={`Nothing lives at ${path}.`} />;
  else if (loadError) body = <ErrorBox error={loadError} title="Could not load this page" />;
  else if (!Page) body = <Loading what="Loading the page" />;
  else body = <Page projectId={projectId} params={found.params} key={`${projectId}:${path}`} />;

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <aside class="sidebar">
        <a class="brand" href={`/project/${projectId}`}>
          <Logo /> <span>Magpie</span>
        </a>
        {list && <ProjectSwitcher projectId={projectId} list={list} />}
        <Nav projectId={projectId} path={path} />
        <div class="account">
          <span class="user" title="Logged in as">
            {currentUser()}
          </span>
          <form method="post" action="/logout">
            <input type="hidden" name="csrf_token" value={csrfToken()} />
            <button type="submit" class="link">
              Log out
            </button>
          </form>
        </div>
      </aside>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </div>
  );
}
