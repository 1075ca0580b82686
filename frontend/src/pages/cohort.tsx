// One cohort: its size and its size at each calculation, its members (linked to
// their person pages), and its definition; or a new cohort of one of three kinds.
import { useState } from "preact/hooks";
import { api, del, get, patch, post } from "../api";
import { navigate } from "../router";
import type { PageProps } from "../routes";
import { COHORT_OPERATORS, isComplete, type Leaf, LeafRow, newLeaf } from "../targeting";
import { Empty, ErrorBox, Field, formatNumber, formatTime, Loading, PageHeader, useAsync } from "../ui";
import { COHORT_KINDS } from "./cohorts";

type Kind = "static" | "person_property" | "behavioral";
type Rules = { match: "AND" | "OR"; leaves: Leaf[] };
const PAGE = 20;

/** The rules as the editor shows them: one group of leaves (PostHog's editor
 * saves OR → [AND → leaves]); null for a deeper tree, edited as JSON instead. */
function toRules(filters: any): Rules | null {
  let group = filters?.properties;
  if (!group || !Array.isArray(group.values)) return { match: "AND", leaves: [] };
  if (group.values.length === 1 && Array.isArray(group.values[0]?.values)) group = group.values[0];
  if (group.values.some((v: any) => Array.isArray(v?.values))) return null;
  return { match: group.type === "OR" ? "OR" : "AND", leaves: group.values };
}

function toFilters(rules: Rules): any {
  return { properties: { type: "OR", values: [{ type: rules.match, values: rules.leaves.filter(isComplete) }] } };
}

function RulesEditor({ rules, onChange, kind, cohorts }: { rules: Rules; onChange: (r: Rules) => void; kind: Kind; cohorts: any[] }) {
  const types = kind === "behavioral" ? ["behavioral", "person", "cohort"] : ["person", "cohort"];
  const set = (i: number, leaf: Leaf) => onChange({ ...rules, leaves: rules.leaves.map((l, j) => (j === i ? leaf : l)) });
  return (
    <fieldset>
      <legend>Rules</legend>
      <div class="row">
        <Field label="Persons match" id="cohort-match">
          <select id="cohort-match" value={rules.match} onChange={(e) => onChange({ ...rules, match: (e.target as HTMLSelectElement).value as "AND" | "OR" })}>
            <option value="AND">all of the rules</option>
            <option value="OR">any of the rules</option>
          </select>
        </Field>
      </div>
      {rules.leaves.map((leaf, i) => (
        <LeafRow key={i} leaf={leaf} id={`rule-${i}`} label={`rule ${i + 1}`} types={types} operators={COHORT_OPERATORS} cohorts={cohorts}
          onChange={(l) => set(i, l)} onRemove={() => onChange({ ...rules, leaves: rules.leaves.filter((_, j) => j !== i) })} />
      ))}
      <button type="button" class="secondary small" onClick={() => onChange({ ...rules, leaves: [...rules.leaves, newLeaf(types[0])] })}>Add rule</button>
    </fieldset>
  );
}

function DistinctIds({ onIds, onFile }: { onIds: (text: string) => void; onFile: (file: File | null) => void }) {
  return (
    <div class="row">
      <Field label="Distinct ids, one a line" id="cohort-ids" hint="Ids without a person (anonymous visitors, typos) are skipped.">
        <textarea id="cohort-ids" rows={5} cols={40} placeholder={"ada@example.com\nbob@example.com"} onInput={(e) => onIds((e.target as HTMLTextAreaElement).value)} />
      </Field>
      <Field label="Or a CSV file" id="cohort-csv" hint="One column of distinct ids; a header cell is skipped.">
        <input id="cohort-csv" type="file" accept=".csv,text/csv,text/plain" onChange={(e) => onFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
      </Field>
    </div>
  );
}

const lines = (text: string) => text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);

function csvForm(fields: Record<string, string>, file: File): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append("csv", file);
  return form;
}

function NewCohort({ projectId }: { projectId: number }) {
  const [kind, setKind] = useState<Kind>("person_property");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [rules, setRules] = useState<Rules>({ match: "AND", leaves: [newLeaf("person")] });
  const [ids, setIds] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const cohorts = useAsync(() => get(`/api/projects/${projectId}/cohorts/?limit=1000`), [projectId]);
  const pick = (next: Kind) => {
    setKind(next);
    setRules({ match: "AND", leaves: [newLeaf(next === "behavioral" ? "behavioral" : "person")] });
  };
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setSaving(true);
    const base = `/api/projects/${projectId}/cohorts/`;
    try {
      let made;
      if (kind === "static" && file) made = await api("POST", base, csvForm({ name, description, is_static: "true" }, file));
      else if (kind === "static") made = await post(base, { name, description, is_static: true, distinct_ids: lines(ids) });
      else made = await post(base, { name, description, filters: toFilters(rules) });
      navigate(`/project/${projectId}/cohorts/${made.id}`);
    } catch (e) {
      setError(e);
      setSaving(false);
    }
  };
  return (
    <>
      <PageHeader title="New cohort" />
      <form onSubmit={save} aria-label="New cohort" class="card">
        <fieldset>
          <legend>Kind</legend>
          <div class="row">
            {(Object.entries(COHORT_KINDS) as [Kind, string][]).map(([value, label]) => (
              <label class="check" key={value}><input type="radio" name="cohort-kind" value={value} checked={kind === value} onChange={() => pick(value)} /> {label}</label>
            ))}
          </div>
          <p class="muted">{kind === "static" ? "A fixed list of persons, by their distinct ids." : kind === "person_property" ? "Persons whose properties match; computed now and again every refresh." : "Persons who did (or stopped doing) events; their events from before identify count."}</p>
        </fieldset>
        <div class="row">
          <Field label="Name" id="cohort-name"><input id="cohort-name" value={name} required onInput={(e) => setName((e.target as HTMLInputElement).value)} /></Field>
          <Field label="Description" id="cohort-description"><input id="cohort-description" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} /></Field>
        </div>
        {kind === "static" ? <DistinctIds onIds={setIds} onFile={setFile} /> : <RulesEditor rules={rules} onChange={setRules} kind={kind} cohorts={cohorts.data?.results ?? []} />}
        <div class="row"><button type="submit" disabled={saving}>{saving ? "Saving…" : "Save cohort"}</button></div>
        {error !== null && <ErrorBox error={error} title="Not saved" />}
      </form>
    </>
  );
}

function CountChart({ points }: { points: { count: number; calculated_at: string }[] }) {
  const width = 640, height = 160, pad = 28;
  const times = points.map((p) => new Date(p.calculated_at).getTime());
  const max = Math.max(1, ...points.map((p) => p.count));
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const x = (t: number) => (t1 === t0 ? width / 2 : pad + ((t - t0) / (t1 - t0)) * (width - 2 * pad));
  const y = (c: number) => height - pad - (c / max) * (height - 2 * pad);
  // A step line: the count holds until the next calculation changes it.
  const path = points.map((p, i) => `${i ? `H${x(times[i])}V` : `M${x(times[i])},`}${y(p.count)}`).join("");
  return (
    <svg class="count-chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Count over time: ${points.length} calculations, latest ${formatNumber(points[points.length - 1].count)}`}>
      <line x1={pad} x2={width - pad} y1={y(0)} y2={y(0)} class="axis" />
      <text x={4} y={y(max) + 4} class="tick">{formatNumber(max)}</text>
      <text x={4} y={y(0) + 4} class="tick">0</text>
      <text x={points.length > 1 ? pad : width / 2} y={height - 6} class="tick" text-anchor={points.length > 1 ? "start" : "middle"}>{formatTime(points[0].calculated_at)}</text>
      {points.length > 1 && <text x={width - pad} y={height - 6} class="tick" text-anchor="end">{formatTime(points[points.length - 1].calculated_at)}</text>}
      <path d={path} class="line" />
      {points.map((p, i) => <circle key={i} cx={x(times[i])} cy={y(p.count)} r={3} class="dot"><title>{`${formatTime(p.calculated_at)}: ${formatNumber(p.count)}`}</title></circle>)}
    </svg>
  );
}

function History({ projectId, cohortId, version }: { projectId: number; cohortId: number; version: number }) {
  const history = useAsync(() => get(`/api/projects/${projectId}/cohorts/${cohortId}/history/?limit=500`), [projectId, cohortId, version]);
  if (history.error) return <ErrorBox error={history.error} title="Could not load the count over time" />;
  if (!history.data) return <Loading what="Loading the count over time" />;
  const rows = [...history.data.results].reverse(); // oldest first
  if (!rows.length) return <Empty title="Not calculated yet">The count is recorded each time the membership is stored.</Empty>;
  return (
    <>
      <CountChart points={rows} />
      <details>
        <summary>Show as table</summary>
        <table class="data compact-rows">
          <caption class="sr-only">Count over time</caption>
          <thead><tr><th scope="col">Calculated</th><th scope="col" class="num">Calculation</th><th scope="col" class="num">Persons</th></tr></thead>
          <tbody>{history.data.results.map((r: any) => <tr key={r.version}><td>{formatTime(r.calculated_at)}</td><td class="num">{r.version}</td><td class="num">{formatNumber(r.count)}</td></tr>)}</tbody>
        </table>
      </details>
    </>
  );
}

function Members({ projectId, cohortId, version }: { projectId: number; cohortId: number; version: number }) {
  const [offset, setOffset] = useState(0);
  const page = useAsync(() => get(`/api/projects/${projectId}/cohorts/${cohortId}/persons/?limit=${PAGE}&offset=${offset}`), [projectId, cohortId, offset, version]);
  if (page.error) return <ErrorBox error={page.error} title="Could not load the members" />;
  if (!page.data) return <Loading what="Loading members" />;
  if (!page.data.results.length && offset === 0) return <Empty title="No members">Nobody matches as of the last calculation.</Empty>;
  return (
    <>
      <table class="data">
        <caption class="sr-only">Members</caption>
        <thead><tr><th scope="col">Person</th><th scope="col">Distinct ids</th><th scope="col">First seen</th></tr></thead>
        <tbody>
          {page.data.results.map((p: any) => {
            const id = p.distinct_ids[0] ?? p.uuid;
            return (
              <tr key={p.uuid}>
                <td><a href={`/project/${projectId}/person/${encodeURIComponent(id)}`}>{String(p.properties?.email ?? p.properties?.name ?? id)}</a></td>
                <td>{p.distinct_ids.map((d: string) => <code class="chip" key={d}>{d}</code>)}</td>
                <td>{formatTime(p.created_at)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" class="secondary small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous page</button>
        <span class="muted">{offset + 1}–{offset + page.data.results.length}</span>
        <button type="button" class="secondary small" disabled={!page.data.next} onClick={() => setOffset(offset + PAGE)}>Next page</button>
      </div>
    </>
  );
}

function Definition({ projectId, cohort, onSaved }: { projectId: number; cohort: any; onSaved: (c: any) => void }) {
  const projectPath = `/api/projects/${projectId}`;
  const path = `${projectPath}/cohorts/${cohort.id}/`;
  const [name, setName] = useState(cohort.name);
  const [description, setDescription] = useState(cohort.description);
  const initial = toRules(cohort.filters);
  const [rules, setRules] = useState<Rules | null>(initial);
  const [json, setJson] = useState(JSON.stringify(cohort.filters, null, 2));
  const [ids, setIds] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState("");
  const [saving, setSaving] = useState(false);
  const cohorts = useAsync(() => get(`${projectPath}/cohorts/?limit=1000`), [projectPath]);
  const kind: Kind = cohort.cohort_type;
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setDone("");
    setSaving(true);
    try {
      let saved;
      if (cohort.is_static) {
        saved = file ? await api("PATCH", path, csvForm({ name, description }, file)) : await patch(path, { name, description, ...(lines(ids).length ? { distinct_ids: lines(ids) } : {}) });
      } else {
        const filters = rules ? toFilters(rules) : JSON.parse(json);
        saved = await patch(path, { name, description, filters });
      }
      setDone(cohort.is_static ? "Saved." : "Saved and calculated.");
      onSaved(saved);
    } catch (e) {
      setError(e instanceof SyntaxError ? new Error(`The definition is not valid JSON: ${e.message}`) : e);
    } finally {
      setSaving(false);
    }
  };
  return (
    <form onSubmit={save} aria-label="Cohort definition">
      <div class="row">
        <Field label="Name" id="cohort-name"><input id="cohort-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></Field>
        <Field label="Description" id="cohort-description"><input id="cohort-description" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} /></Field>
      </div>
      {cohort.is_static ? (
        <>
          <p class="muted">Add persons to this list (ids already in it are kept):</p>
          <DistinctIds onIds={setIds} onFile={setFile} />
        </>
      ) : rules ? (
        <RulesEditor rules={rules} onChange={setRules} kind={kind === "behavioral" ? "behavioral" : rules.leaves.some((l) => l.type === "behavioral") ? "behavioral" : "person_property"} cohorts={(cohorts.data?.results ?? []).filter((c: any) => c.id !== cohort.id)} />
      ) : (
        <Field label="Definition (JSON)" id="cohort-json" hint="Nested groups of rules: edited as PostHog's filters JSON.">
          <textarea id="cohort-json" class="code" rows={10} value={json} onInput={(e) => setJson((e.target as HTMLTextAreaElement).value)} />
        </Field>
      )}
      <div class="row">
        <button type="submit" disabled={saving}>{saving ? "Saving…" : cohort.is_static ? "Save and add" : "Save and calculate"}</button>
        {done && <span role="status">{done}</span>}
      </div>
      {error !== null && <ErrorBox error={error} title="Not saved" />}
    </form>
  );
}

function CohortPage({ projectId, cohortId }: { projectId: number; cohortId: number }) {
  const loaded = useAsync(() => get(`/api/projects/${projectId}/cohorts/${cohortId}/`), [projectId, cohortId]);
  const [current, setCurrent] = useState<any>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (loaded.error) return <><PageHeader title="Cohort" /><ErrorBox error={loaded.error} title="Could not load the cohort" /></>;
  if (!loaded.data) return <Loading what="Loading the cohort" />;
  const cohort = current ?? loaded.data;
  const recalculate = async () => {
    setBusy(true);
    setError(null);
    try {
      setCurrent(await post(`/api/projects/${projectId}/cohorts/${cohortId}/recalculate/`, {}));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete the cohort “${cohort.name}”? Insights and flags that use it will match no one.`)) return;
    try {
      await del(`/api/projects/${projectId}/cohorts/${cohortId}/`);
      navigate(`/project/${projectId}/cohorts`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <PageHeader title={cohort.name || `Cohort ${cohort.id}`}>
        {!cohort.is_static && <button type="button" class="secondary" disabled={busy} onClick={recalculate}>{busy ? "Calculating…" : "Recalculate"}</button>}
        <button type="button" class="danger" onClick={remove}>Delete cohort</button>
      </PageHeader>
      {cohort.description && <p class="lead">{cohort.description}</p>}
      {error !== null && <ErrorBox error={error} title="That did not work" />}
      <div class="stats">
        <div class="stat"><div class="stat-label" id="stat-count">Persons</div><div class="stat-value" aria-labelledby="stat-count" data-testid="cohort-count">{cohort.count === null ? "—" : formatNumber(cohort.count)}</div></div>
        <div class="stat"><div class="stat-label">Kind</div><div class="stat-text">{COHORT_KINDS[cohort.cohort_type] ?? cohort.cohort_type}</div></div>
        <div class="stat"><div class="stat-label">Last calculated</div><div class="stat-text">{formatTime(cohort.last_calculation)}</div></div>
        <div class="stat"><div class="stat-label">Calculations</div><div class="stat-text">{formatNumber(cohort.version)}{cohort.errors_calculating > 0 && <span class="error-text"> · {cohort.errors_calculating} failed</span>}</div></div>
      </div>
      {cohort.last_error && cohort.errors_calculating > 0 && <ErrorBox title="The last calculation failed" error={cohort.last_error} />}
      <div class="grid-2 top">
        <section class="card" aria-labelledby="c-history">
          <h2 id="c-history">Count over time</h2>
          <History projectId={projectId} cohortId={cohortId} version={cohort.version} />
        </section>
        <section class="card" aria-labelledby="c-definition">
          <h2 id="c-definition">{cohort.is_static ? "Add persons" : "Definition"}</h2>
          <Definition projectId={projectId} cohort={cohort} onSaved={setCurrent} key={cohort.id} />
        </section>
      </div>
      <section class="card" aria-labelledby="c-members">
        <h2 id="c-members">Members</h2>
        <p class="muted">As of the last calculation; each links to the person.</p>
        <Members projectId={projectId} cohortId={cohortId} version={cohort.version} />
      </section>
    </>
  );
}

export default function Cohort({ projectId, params }: PageProps) {
  if (params.cohortId === undefined) return <NewCohort projectId={projectId} />;
  const id = Number(params.cohortId);
  if (!Number.isInteger(id)) return <ErrorBox title="No such cohort" error={`“${params.cohortId}” is not a cohort id.`} />;
  return <CohortPage projectId={projectId} cohortId={id} />;
}
