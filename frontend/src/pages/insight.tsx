// /insights/new and /insights/{short_id}: pick a kind (trends, funnels …), build
// it, see it drawn and as a table, open the actors behind a number, save it, put
// it on a dashboard. The query lives in the URL (#q=).
import { useEffect, useRef, useState } from "preact/hooks";
import { get, patch, post } from "../api";
import { navigate } from "../router";
import type { PageProps } from "../routes";
import { InsightAnswer } from "../insights/answer";
import { KINDS, kindOf } from "../insights/kinds";
import { defaultTrend, fromHash, toHash, type AnyQuery } from "../trends/query";
import { ErrorBox, Field, Loading, PageHeader, useAsync, useDebounced } from "../ui";

type Saved = { id: number; short_id: string; name: string; description: string; query: AnyQuery; dashboards: number[] };

/** Buttons that switch the insight's kind, each starting from its first query. */
function KindSwitch({ query, onChange }: { query: AnyQuery; onChange: (q: AnyQuery) => void }) {
  return (
    <div class="kind-switch" role="group" aria-label="Insight kind">
      {KINDS.map((k) => (
        <button type="button" key={k.kind} aria-pressed={query.kind === k.kind}
          onClick={() => query.kind !== k.kind && onChange({ ...k.make(), ...("dateRange" in query && query.dateRange ? { dateRange: query.dateRange } : {}) })}>
          {k.label}
        </button>
      ))}
    </div>
  );
}

function SaveBar({ projectId, saved, query, onSaved }: { projectId: number; saved: Saved | null; query: AnyQuery; onSaved: (s: Saved) => void }) {
  const [name, setName] = useState(saved?.name ?? "");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim() || "Untitled insight", query };
      const result: Saved = saved ? await patch(`/api/projects/${projectId}/insights/${saved.id}/`, body) : await post(`/api/projects/${projectId}/insights/`, body);
      onSaved(result);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="savebar" onSubmit={save}>
      <Field label="Insight name" id="insight-name">
        <input id="insight-name" value={name} placeholder="Untitled insight" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      </Field>
      <button type="submit" disabled={busy}>{saved ? "Save changes" : "Save insight"}</button>
      {error !== null && <ErrorBox error={error} title="Not saved" />}
    </form>
  );
}

function AddToDashboard({ projectId, saved, onSaved }: { projectId: number; saved: Saved; onSaved: (s: Saved) => void }) {
  const boards = useAsync(() => get(`/api/projects/${projectId}/dashboards/`), [projectId]);
  const [choice, setChoice] = useState("");
  const [error, setError] = useState<unknown>(null);
  if (!boards.data) return null;
  const options = boards.data.results.filter((b: any) => !saved.dashboards.includes(b.id));
  const add = async (event: Event) => {
    event.preventDefault();
    if (!choice) return;
    try {
      onSaved(await patch(`/api/projects/${projectId}/insights/${saved.id}/`, { dashboards: [...saved.dashboards, Number(choice)] }));
      setChoice("");
    } catch (e) {
      setError(e);
    }
  };
  return (
    <form class="savebar" onSubmit={add}>
      <Field label="Add to dashboard" id="add-to-dashboard">
        <select id="add-to-dashboard" value={choice} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
          <option value="">Choose a dashboard…</option>
          {options.map((b: any) => <option value={String(b.id)} key={b.id}>{b.name}</option>)}
        </select>
      </Field>
      <button type="submit" class="secondary" disabled={!choice}>Add to dashboard</button>
      {saved.dashboards.length > 0 && (
        <p class="muted">
          On{" "}
          {boards.data.results.filter((b: any) => saved.dashboards.includes(b.id)).map((b: any, i: number) => (
            <span key={b.id}>{i > 0 && ", "}<a href={`/project/${projectId}/dashboard/${b.id}`}>{b.name}</a></span>
          ))}
        </p>
      )}
      {error !== null && <ErrorBox error={error} title="Not added" />}
    </form>
  );
}

export default function Insight({ projectId, params }: PageProps) {
  const shortId = params.shortId;
  const loadedSaved = useAsync<Saved | null>(
    () => (shortId ? get(`/api/projects/${projectId}/insights/?short_id=${encodeURIComponent(shortId)}`).then((r) => r.results[0] ?? null) : Promise.resolve(null)),
    [projectId, shortId],
  );
  const [saved, setSaved] = useState<Saved | null>(null);
  const [query, setQuery] = useState<AnyQuery | null>(null);
  const [asTable, setAsTable] = useState(false);
  const first = useRef(true);

  useEffect(() => {
    if (loadedSaved.loading) return;
    const fromUrl = fromHash(location.hash);
    setSaved(loadedSaved.data ?? null);
    setQuery(fromUrl ?? loadedSaved.data?.query ?? defaultTrend());
  }, [loadedSaved.loading, loadedSaved.data]);

  useEffect(() => {
    if (!query) return;
    if (first.current && !location.hash && saved) {
      first.current = false;
      return; // a saved insight's own query needs no #q= until it changes
    }
    first.current = false;
    history.replaceState(null, "", location.pathname + toHash(query));
  }, [JSON.stringify(query)]);

  // A link to another query opened in this tab changes only the hash: follow it.
  useEffect(() => {
    const follow = () => {
      const fromUrl = fromHash(location.hash);
      if (fromUrl) setQuery(fromUrl);
    };
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);

  const debounced = useDebounced(query, 250);
  if (shortId && loadedSaved.error) return <ErrorBox error={loadedSaved.error} />;
  if (shortId && !loadedSaved.loading && !loadedSaved.data)
    return <ErrorBox title="No such insight" error={`This project has no insight ${shortId}.`} />;
  if (!query || !debounced) return <Loading what="Opening the insight" />;
  const name = saved?.name || "New insight";
  const onSaved = (s: Saved) => {
    setSaved(s);
    if (!shortId) navigate(`/project/${projectId}/insights/${s.short_id}`, { replace: true });
  };
  const kind = kindOf(query.kind);
  return (
    <>
      <PageHeader title={name}>
        {kind && (
          <button type="button" class="secondary" aria-pressed={asTable} onClick={() => setAsTable(!asTable)}>
            {asTable ? "Show chart" : "Show as table"}
          </button>
        )}
      </PageHeader>
      {saved && <p class="muted">Short id <code>{saved.short_id}</code>{saved.description && ` · ${saved.description}`}</p>}
      <div class="save-row">
        <SaveBar key={saved?.id ?? "new"} projectId={projectId} saved={saved} query={kind ? kind.clean(query) : query} onSaved={onSaved} />
        {saved && <AddToDashboard projectId={projectId} saved={saved} onSaved={setSaved} />}
      </div>
      <div class={kind ? "insight-layout" : ""}>
        {kind ? (
          <div>
            <KindSwitch query={query} onChange={setQuery} />
            <kind.Builder key={query.kind} query={query} onChange={setQuery} projectId={projectId} />
          </div>
        ) : query.kind === "HogQLQuery" ? (
          <p>
            A SQL insight. <a href={`/project/${projectId}/sql#q=${encodeURIComponent(String(query.query))}`}>Open it in the SQL editor</a>
          </p>
        ) : (
          <p class="muted">Magpie cannot build a {query.kind} yet; its saved query is kept as it is.</p>
        )}
        <section class="card result-card" aria-label="Result">
          <InsightAnswer projectId={projectId} query={debounced} asTable={asTable} name={name} />
        </section>
      </div>
    </>
  );
}
