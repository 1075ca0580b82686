// One action: how many events it matched in the last 30 days (the query API's
// trend of it, one click from the insight editor), its name and steps to edit,
// and delete. Or a new action.
import { useState } from "preact/hooks";
import { ApiError, del, get, patch, post, runQuery } from "../api";
import { cleanSteps, newStep, STEP_FIELDS, stepProblem, StepsEditor } from "../action-steps";
import { type Action, type ActionStep, actionPage, actionsPath, actionTrend } from "../actions";
import { navigate } from "../router";
import type { PageProps } from "../routes";
import { useEventNames } from "../trends/builder";
import { toHash, type TrendResult } from "../trends/query";
import { ErrorBox, Field, formatNumber, formatTime, Loading, PageHeader, useAsync } from "../ui";

/** "Not saved: step 2, CSS selector" when the API names the field it refused. */
function notSavedTitle(error: unknown): string {
  const attr = error instanceof ApiError ? error.attr : null;
  const found = /^steps\.(\d+)(?:\.(\w+))?$/.exec(attr ?? "");
  if (found) return `Not saved: step ${Number(found[1]) + 1}${found[2] ? `, ${STEP_FIELDS[found[2]] ?? found[2]}` : ""}`;
  return attr ? `Not saved: ${attr}` : "Not saved";
}

function ActionForm({ projectId, action, onSaved }: { projectId: number; action: Action | null; onSaved: (a: Action) => void }) {
  const [name, setName] = useState(action?.name ?? "");
  const [description, setDescription] = useState(action?.description ?? "");
  const [steps, setSteps] = useState<ActionStep[]>(action?.steps.length ? action.steps : [newStep()]);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState("");
  const [saving, setSaving] = useState(false);
  const [names, wantNames] = useEventNames(projectId);
  const problem = error instanceof ApiError ? stepProblem(error.attr, error.detail) : null;
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setDone("");
    setSaving(true);
    const body = { name, description, steps: cleanSteps(steps) };
    try {
      const saved: Action = action ? await patch(`${actionsPath(projectId)}${action.id}/`, body) : await post(actionsPath(projectId), body);
      if (!action) return navigate(actionPage(projectId, saved.id));
      setDone("Saved.");
      onSaved(saved);
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };
  return (
    <form onSubmit={save} aria-label={action ? "Action definition" : "New action"}>
      <datalist id="event-names">{names.map((n) => <option value={n} key={n} />)}</datalist>
      <div class="row">
        <Field label="Name" id="action-name">
          <input id="action-name" value={name} required maxLength={400} aria-invalid={(error instanceof ApiError && error.attr === "name") || undefined} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Description" id="action-description">
          <input id="action-description" value={description} maxLength={4000} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        </Field>
      </div>
      <p class="muted">An event is this action when it matches any of the steps; it matches a step when it matches every part the step sets.</p>
      <StepsEditor steps={steps} onChange={setSteps} onFocusEvent={wantNames} problem={problem} />
      <div class="row">
        <button type="submit" disabled={saving}>{saving ? "Saving…" : "Save action"}</button>
        {done && <span role="status">{done}</span>}
      </div>
      {error !== null && <ErrorBox error={error} title={notSavedTitle(error)} />}
    </form>
  );
}

function NewAction({ projectId }: { projectId: number }) {
  return (
    <>
      <PageHeader title="New action" />
      <section class="card"><ActionForm projectId={projectId} action={null} onSaved={() => undefined} /></section>
    </>
  );
}

/** The action's events over the last 30 days: the total of its trend. */
function MatchedCount({ projectId, action }: { projectId: number; action: Action }) {
  const query = actionTrend(action);
  const answer = useAsync(() => runQuery(projectId, query), [projectId, action.id, action.updated_at]);
  const trendHref = `/project/${projectId}/insights/new${toHash(query)}`;
  const value = answer.error ? <span class="error-text">—</span> : !answer.data ? <Loading what="Counting its events" />
    : formatNumber((answer.data.results as TrendResult[]).reduce((sum, r) => sum + r.count, 0));
  return (
    <div class="stat">
      <div class="stat-label" id="stat-matched">Events in the last 30 days</div>
      <div class="stat-value" aria-labelledby="stat-matched" data-testid="action-count">{value}</div>
      {answer.error ? <div class="error-text">Could not count: {(answer.error as Error).message}</div> : <a href={trendHref}>Open as a trend</a>}
    </div>
  );
}

function ActionPage({ projectId, actionId }: { projectId: number; actionId: number }) {
  const loaded = useAsync<Action>(() => get(`${actionsPath(projectId)}${actionId}/`), [projectId, actionId]);
  const [current, setCurrent] = useState<Action | null>(null);
  const [error, setError] = useState<unknown>(null);
  if (loaded.error) return <><PageHeader title="Action" /><ErrorBox error={loaded.error} title="Could not load the action" /></>;
  if (!loaded.data) return <Loading what="Loading the action" />;
  const action = current ?? loaded.data;
  const remove = async () => {
    if (!confirm(`Delete the action “${action.name}”? Insights that use it will no longer run.`)) return;
    try {
      await del(`${actionsPath(projectId)}${action.id}/`);
      navigate(`/project/${projectId}/data-management/actions`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <PageHeader title={action.name}>
        <button type="button" class="danger" onClick={remove}>Delete action</button>
      </PageHeader>
      {action.description && <p class="lead">{action.description}</p>}
      {error !== null && <ErrorBox error={error} title="Not deleted" />}
      <div class="stats">
        <MatchedCount projectId={projectId} action={action} />
        <div class="stat"><div class="stat-label">Steps</div><div class="stat-text">{formatNumber(action.steps.length)}</div></div>
        <div class="stat"><div class="stat-label">Last updated</div><div class="stat-text">{formatTime(action.updated_at)}</div></div>
        <div class="stat"><div class="stat-label">Created</div><div class="stat-text">{formatTime(action.created_at)}</div></div>
      </div>
      <section class="card" aria-labelledby="a-definition">
        <h2 id="a-definition">Definition</h2>
        <ActionForm projectId={projectId} action={action} onSaved={setCurrent} key={action.id} />
      </section>
    </>
  );
}

export default function ActionRoute({ projectId, params }: PageProps) {
  if (params.actionId === undefined) return <NewAction projectId={projectId} />;
  const id = Number(params.actionId);
  if (!Number.isInteger(id)) return <ErrorBox title="No such action" error={`“${params.actionId}” is not an action id.`} />;
  return <ActionPage projectId={projectId} actionId={id} />;
}
