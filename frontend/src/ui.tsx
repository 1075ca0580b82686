// Small pieces every page uses: loading, empty and error states, headers, data hooks.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {what}…
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state empty">
      <strong>{title}</strong>
      {children && <div>{children}</div>}
    </div>
  );
}

export function ErrorBox({ error, title = "Something went wrong" }: { error: unknown; title?: string }) {
  const message =
    error instanceof ApiError ? error.detail : error instanceof Error ? error.message : String(error);
  return (
    <div class="state error" role="alert">
      <strong>{title}</strong>
      <div>{message}</div>
    </div>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Magpie`;
  }, [title]);
  return (
    <header class="page-header">
      <h1>{title}</h1>
      {children && <div class="actions">{children}</div>}
    </header>
  );
}

export type Async<T> = { data?: T; error?: unknown; loading: boolean; reload: () => void };

/** Runs ``load`` on mount and whenever ``deps`` change; the latest answer wins. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === generation.current && setState({ data, loading: false }),
      (error) => mine === generation.current && setState({ error, loading: false }),
    );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** ``value``, once it has stopped changing for ``ms``. */
export function useDebounced<T>(value: T, ms: number): T {
  const [current, setCurrent] = useState(value);
  useEffect(() => {
    // The first real value needs no wait: only changes to it are debounced.
    if (current === null || current === undefined) return setCurrent(value);
    const id = setTimeout(() => setCurrent(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return current;
}

/** Calls ``tick`` every ``ms`` while the tab is visible. */
export function useInterval(tick: () => void, ms: number | null): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => document.visibilityState === "visible" && saved.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}

export function formatNumber(value: unknown): string {
  if (typeof value !== "number") return value === null || value === undefined ? "" : String(value);
  return Number.isInteger(value)
    ? value.toLocaleString("en-US")
    : value.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const at = new Date(iso);
  return isNaN(at.getTime()) ? iso : at.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
}

export function relativeTime(iso: string): string {
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function Field({ label, id, children, hint }: { label: string; id: string; children: ComponentChildren; hint?: string }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint && <small class="hint">{hint}</small>}
    </div>
  );
}

/** A person-mode badge: what the seed document calls anonymous vs identified. */
export function ModeBadge({ mode }: { mode: string }) {
  const anonymous = mode === "propertyless";
  return (
    <span class={`badge ${anonymous ? "anon" : "ident"}`} title={`person_mode: ${mode}`}>
      {anonymous ? "Anonymous" : "Identified"}
    </span>
  );
}

export function JsonView({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}
