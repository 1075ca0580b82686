// A small History API router: routes are data (see routes.tsx), so a later
// feature's page is one more entry in that table.
import { useEffect, useState } from "preact/hooks";

export type Params = Record<string, string>;

export function compile(pattern: string): RegExp {
  const source = pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:(\w+)/g, "(?<$1>[^/]+)");
  return new RegExp(`^${source}/?$`);
}

export function match(pattern: RegExp, path: string): Params | null {
  const found = pattern.exec(path);
  if (!found) return null;
  const params: Params = {};
  for (const [k, v] of Object.entries(found.groups ?? {})) params[k] = decodeURIComponent(v);
  return params;
}

const listeners = new Set<() => void>();

export function navigate(to: string, { replace = false } = {}): void {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((l) => l());
  if (!to.includes("#")) window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => listeners.forEach((l) => l()));

export function useLocation(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return path;
}

/** Same-origin link clicks become navigations without a page load. */
export function interceptLinks(): void {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = (event.target as Element).closest?.("a");
    if (!link || link.target || link.hasAttribute("download") || link.dataset.reload !== undefined) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith("/project/")) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
}
