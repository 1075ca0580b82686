// The one way the app talks to Magpie: its REST API, with the session cookie and,
// on every state-changing call, the CSRF token the server put in the page.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly attr: string | null,
  ) {
    super(detail);
  }
}

function meta(name: string): string {
  return document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? "";
}

export const csrfToken = (): string => meta("magpie-csrf");
export const currentUser = (): string => meta("magpie-user");

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  // A FormData body (a file upload) sets its own multipart Content-Type.
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : form ? (body as FormData) : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network_error", "Magpie did not answer: is the server running?", null);
  }
  if (response.status === 401) {
    // The session ended (logged out elsewhere, or expired): back to the login page.
    window.location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    throw new ApiError(401, "not_authenticated", "Your session has ended: log in again.", null);
  }
  if (response.status === 204) return undefined as T;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(
      response.status,
      data?.code ?? "error",
      data?.detail ?? `Magpie answered ${response.status}`,
      data?.attr ?? null,
    );
  }
  return data as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);
export const post = <T = any>(path: string, body: unknown) => api<T>("POST", path, body);
export const patch = <T = any>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const put = <T = any>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = (path: string) => api<void>("DELETE", path);

/** Where a message like "... at line 2, column 8" or "Line 2, Col: 19" points. */
export function errorPosition(detail: string): { line: number; column: number } | null {
  const found = /line (\d+), col(?:umn)?:? ?(\d+)/i.exec(detail);
  return found ? { line: Number(found[1]), column: Number(found[2]) } : null;
}

export type QueryResponse = {
  columns?: string[];
  types?: string[];
  results: any[];
};

export function runQuery(projectId: number, query: unknown): Promise<QueryResponse> {
  return post(`/api/projects/${projectId}/query/`, { query });
}

/** A HogQL query with bound values (never pasted into the text). */
export function hogql(projectId: number, sql: string, values: Record<string, unknown> = {}) {
  return runQuery(projectId, { kind: "HogQLQuery", query: sql, values });
}
