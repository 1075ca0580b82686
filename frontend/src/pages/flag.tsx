// One feature flag: its release conditions (each with a live count of the stored
// persons it reaches), variants and payloads; how often SDKs read it; every
// change to it. Or a new flag.
import { useEffect, useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import { navigate } from "../router";
import type { PageProps } from "../routes";
import { FLAG_OPERATORS, isComplete, type Leaf, LeafRow, newLeaf } from "../targeting";
import { Empty, ErrorBox, Field, formatNumber, formatTime, JsonView, Loading, PageHeader, useAsync, useDebounced } from "../ui";
import { releaseSummary, StatusBadge } from "./flags";

type Condition = { properties: Leaf[]; rollout_percentage: number | null; variant?: string | null; [k: string]: unknown };
type Variant = { key: string; name?: string; rollout_percentage: number };
type Draft = {
  key: string;
  name: string;
  active: boolean;
  continuity: boolean;
  groupType: number | null;
  conditions: Condition[];
  multivariate: boolean;
  variants: Variant[];
  payloads: Record<string, string>;
  rest: Record<string, unknown>; // filters this editor does not show (holdout, super groups …), kept
};

function draftOf(flag: any | null): Draft {
  const filters = flag?.filters ?? {};
  const { groups, multivariate, payloads, aggregation_group_type_index, ...rest } = filters;
  const variants: Variant[] = multivariate?.variants ?? [];
  return {
    key: flag?.key ?? "",
    name: flag?.name ?? "",
    active: flag?.active ?? true,
    continuity: flag?.ensure_experience_continuity ?? false,
    groupType: aggregation_group_type_index ?? null,
    conditions: groups ?? [{ properties: [], rollout_percentage: 100 }],
    multivariate: variants.length > 0,
    variants: variants.length ? variants : [{ key: "control", rollout_percentage: 50 }, { key: "test", rollout_percentage: 50 }],
    payloads: payloads ?? {},
    rest,
  };
}

function filtersOf(draft: Draft): any {
  const keys = draft.multivariate ? draft.variants.map((v) => v.key) : ["true"];
  const payloads = Object.fromEntries(keys.filter((k) => (draft.payloads[k] ?? "").trim()).map((k) => [k, draft.payloads[k]]));
  return {
    ...draft.rest,
    aggregation_group_type_index: draft.groupType,
    groups: draft.conditions.map((c) => ({
      ...c,
      properties: c.properties.filter(isComplete),
      variant: draft.multivariate ? c.variant || null : null,
    })),
    multivariate: draft.multivariate ? { variants: draft.variants } : null,
    payloads,
  };
}

/** How many stored persons (or groups) a condition's properties reach, as the API counts. */
function Preview({ projectId, condition, groupType }: { projectId: number; condition: Condition; groupType: number | null }) {
  const body = JSON.stringify({ condition: { properties: condition.properties.filter(isComplete), rollout_percentage: condition.rollout_percentage }, group_type_index: groupType });
  const settled = useDebounced(body, 400);
  const radius = useAsync(() => post(`/api/projects/${projectId}/feature_flags/user_blast_radius`, JSON.parse(settled)), [projectId, settled]);
  const who = groupType === null ? "persons" : "groups";
  if (radius.error) return <div class="preview error-text" role="status">Could not count: {(radius.error as Error).message}</div>;
  if (!radius.data) return <div class="preview muted" role="status">Counting who would get this…</div>;
  const { users_affected: affected, total_users: total } = radius.data;
  const share = total ? (100 * affected) / total : 0;
  const rollout = condition.rollout_percentage ?? 100;
  return (
    <div class={`preview${radius.loading ? " stale" : ""}`} role="status" aria-label="Who would get this">
      <span class="meter" aria-hidden="true"><span style={{ width: `${share}%` }} /></span>
      <span><strong data-testid="preview-affected">{formatNumber(affected)}</strong> of <span data-testid="preview-total">{formatNumber(total)}</span> stored {who} match ({formatNumber(Math.round(share * 10) / 10)}%)
        {rollout < 100 && <>; the rollout gives it to {formatNumber(rollout)}% of them, chosen by hash</>}.</span>
    </div>
  );
}

function ConditionEditor({ projectId, index, condition, draft, onChange, onRemove, cohorts, flags }: {
  projectId: number; index: number; condition: Condition; draft: Draft; onChange: (c: Condition) => void; onRemove: () => void; cohorts: any[]; flags: any[];
}) {
  const n = index + 1;
  const setLeaf = (i: number, leaf: Leaf) => onChange({ ...condition, properties: condition.properties.map((l, j) => (j === i ? leaf : l)) });
  const types = draft.groupType === null ? ["person", "cohort", "flag"] : ["group", "flag"];
  // A group property of a group flag names the flag's group type.
  const fresh = (type: string): Leaf => (type === "group" ? { ...newLeaf(type), group_type_index: draft.groupType ?? 0 } : newLeaf(type));
  return (
    <fieldset class="condition" aria-label={`Condition set ${n}`}>
      <legend>Condition set {n}</legend>
      {!condition.properties.length && <p class="muted">No properties: everyone{draft.groupType === null ? "" : " (every group)"} matches.</p>}
      {condition.properties.map((leaf, i) => (
        <LeafRow key={i} leaf={leaf} id={`c${index}-p${i}`} label={`condition ${n} property ${i + 1}`} types={types} operators={FLAG_OPERATORS}
          cohorts={cohorts} flags={flags} onChange={(l) => setLeaf(i, l)} onRemove={() => onChange({ ...condition, properties: condition.properties.filter((_, j) => j !== i) })} />
      ))}
      <div class="row">
        <button type="button" class="secondary small" onClick={() => onChange({ ...condition, properties: [...condition.properties, fresh(types[0])] })}>Add property to condition {n}</button>
      </div>
      <div class="row">
        <Field label={`Rollout of condition ${n} (%)`} id={`c${index}-rollout`}>
          <input id={`c${index}-rollout`} type="number" min={0} max={100} step="any" value={condition.rollout_percentage ?? ""}
            onInput={(e) => { const t = (e.target as HTMLInputElement).value; onChange({ ...condition, rollout_percentage: t === "" ? null : Number(t) }); }} />
        </Field>
        {draft.multivariate && (
          <Field label={`Variant of condition ${n}`} id={`c${index}-variant`}>
            <select id={`c${index}-variant`} value={condition.variant ?? ""} onChange={(e) => onChange({ ...condition, variant: (e.target as HTMLSelectElement).value || null })}>
              <option value="">By the variants' split</option>
              {draft.variants.map((v) => <option value={v.key} key={v.key}>Always {v.key}</option>)}
            </select>
          </Field>
        )}
        <button type="button" class="danger small" onClick={onRemove}>Remove condition set {n}</button>
      </div>
      <Preview projectId={projectId} condition={condition} groupType={draft.groupType} />
    </fieldset>
  );
}

function Variants({ draft, set }: { draft: Draft; set: (d: Partial<Draft>) => void }) {
  const total = draft.variants.reduce((sum, v) => sum + (Number(v.rollout_percentage) || 0), 0);
  const change = (i: number, v: Partial<Variant>) => set({ variants: draft.variants.map((x, j) => (j === i ? { ...x, ...v } : x)) });
  return (
    <>
      <table class="data compact-rows">
        <caption class="sr-only">Variants</caption>
        <thead><tr><th scope="col">Variant key</th><th scope="col">Description</th><th scope="col">Split (%)</th><th scope="col">Payload (JSON)</th><th scope="col"><span class="sr-only">Remove</span></th></tr></thead>
        <tbody>
          {draft.variants.map((v, i) => (
            <tr key={i}>
              <td><input aria-label={`Key of variant ${i + 1}`} value={v.key} onInput={(e) => change(i, { key: (e.target as HTMLInputElement).value })} /></td>
              <td><input aria-label={`Description of variant ${i + 1}`} value={v.name ?? ""} onInput={(e) => change(i, { name: (e.target as HTMLInputElement).value })} /></td>
              <td><input aria-label={`Split of variant ${i + 1}`} class="narrow" type="number" min={0} max={100} value={v.rollout_percentage} onInput={(e) => change(i, { rollout_percentage: Number((e.target as HTMLInputElement).value) })} /></td>
              <td><input aria-label={`Payload of variant ${i + 1}`} class="code" placeholder='{"color": "blue"}' value={draft.payloads[v.key] ?? ""} onInput={(e) => set({ payloads: { ...draft.payloads, [v.key]: (e.target as HTMLInputElement).value } })} /></td>
              <td><button type="button" class="icon" aria-label={`Remove variant ${i + 1}`} onClick={() => set({ variants: draft.variants.filter((_, j) => j !== i) })}>×</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="row">
        <button type="button" class="secondary small" onClick={() => set({ variants: [...draft.variants, { key: `variant-${draft.variants.length + 1}`, rollout_percentage: 0 }] })}>Add variant</button>
        <span class={total === 100 ? "muted" : "error-text"} role="status">Splits add up to {formatNumber(total)}%{total === 100 ? "" : " (they must add up to 100)"}</span>
      </div>
    </>
  );
}

function Editor({ projectId, flag, onSaved }: { projectId: number; flag: any | null; onSaved: (f: any) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(flag));
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [done, setDone] = useState(false);
  const set = (change: Partial<Draft>) => { setDraft((d) => ({ ...d, ...change })); setDone(false); };
  const cohorts = useAsync(() => get(`/api/projects/${projectId}/cohorts/?limit=1000`), [projectId]);
  const others = useAsync(() => get(`/api/projects/${projectId}/feature_flags/?limit=1000`), [projectId]);
  const flagChoices = (others.data?.results ?? []).filter((f: any) => f.id !== flag?.id).map((f: any) => ({ id: f.id, name: f.key }));
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setSaving(true);
    const body = { key: draft.key.trim(), name: draft.name, active: draft.active, ensure_experience_continuity: draft.continuity, filters: filtersOf(draft) };
    try {
      const saved = flag ? await patch(`/api/projects/${projectId}/feature_flags/${flag.id}/`, body) : await post(`/api/projects/${projectId}/feature_flags/`, body);
      if (!flag) navigate(`/project/${projectId}/feature_flags/${saved.id}`);
      else { setDone(true); onSaved(saved); }
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };
  return (
    <form onSubmit={save} aria-label={flag ? "Feature flag" : "New feature flag"}>
      <div class="row">
        <Field label="Key" id="flag-key"><input id="flag-key" required placeholder="new-checkout" title="What code asks for: letters, digits, - and _" value={draft.key} onInput={(e) => set({ key: (e.target as HTMLInputElement).value })} /></Field>
        <Field label="Description" id="flag-name"><input id="flag-name" value={draft.name} onInput={(e) => set({ name: (e.target as HTMLInputElement).value })} /></Field>
        <Field label="Match" id="flag-aggregation">
          <select id="flag-aggregation" value={draft.groupType === null ? "" : String(draft.groupType)}
            onChange={(e) => { const v = (e.target as HTMLSelectElement).value; set({ groupType: v === "" ? null : Number(v), conditions: [{ properties: [], rollout_percentage: 100 }] }); }}>
            <option value="">Persons</option>
            {[0, 1, 2, 3, 4].map((i) => <option value={String(i)} key={i}>Groups of type {i}</option>)}
          </select>
        </Field>
      </div>
      <div class="row">
        <label class="check"><input type="checkbox" checked={draft.active} onChange={(e) => set({ active: (e.target as HTMLInputElement).checked })} /> Active</label>
        <label class="check"><input type="checkbox" checked={draft.continuity} onChange={(e) => set({ continuity: (e.target as HTMLInputElement).checked })} /> Keep the value across identify (experience continuity)</label>
      </div>
      <h3>Release conditions</h3>
      <p class="muted">The first condition set a {draft.groupType === null ? "person" : "group"} matches decides; within a set, every property must match, then the rollout picks a share by hash.</p>
      {draft.conditions.map((c, i) => (
        <ConditionEditor key={i} projectId={projectId} index={i} condition={c} draft={draft} cohorts={cohorts.data?.results ?? []} flags={flagChoices}
          onChange={(next) => set({ conditions: draft.conditions.map((x, j) => (j === i ? next : x)) })}
          onRemove={() => set({ conditions: draft.conditions.filter((_, j) => j !== i) })} />
      ))}
      <button type="button" class="secondary small" onClick={() => set({ conditions: [...draft.conditions, { properties: [], rollout_percentage: 100 }] })}>Add condition set</button>
      <h3>Value</h3>
      <label class="check"><input type="checkbox" checked={draft.multivariate} onChange={(e) => set({ multivariate: (e.target as HTMLInputElement).checked })} /> Multiple variants</label>
      {draft.multivariate ? <Variants draft={draft} set={set} /> : (
        <Field label="Payload when on (JSON)" id="flag-payload" hint="Sent with the flag; the SDKs parse it.">
          <textarea id="flag-payload" class="code" rows={3} placeholder='{"limit": 10}' value={draft.payloads["true"] ?? ""} onInput={(e) => set({ payloads: { ...draft.payloads, true: (e.target as HTMLTextAreaElement).value } })} />
        </Field>
      )}
      <div class="row">
        <button type="submit" disabled={saving}>{saving ? "Saving…" : "Save feature flag"}</button>
        {done && <span role="status">Saved.</span>}
      </div>
      {error !== null && <ErrorBox error={error} title="Not saved" />}
    </form>
  );
}

function Usage({ projectId, flagId }: { projectId: number; flagId: number }) {
  const [days, setDays] = useState(30);
  const usage = useAsync(() => get(`/api/projects/${projectId}/feature_flags/${flagId}/usage/?days=${days}`), [projectId, flagId, days]);
  return (
    <>
      <div class="row">
        <Field label="Over the last" id="usage-days">
          <select id="usage-days" value={String(days)} onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
            {[1, 7, 30, 90].map((d) => <option value={String(d)} key={d}>{d === 1 ? "day" : `${d} days`}</option>)}
          </select>
        </Field>
      </div>
      {usage.error ? <ErrorBox error={usage.error} title="Could not load the usage" /> : !usage.data ? <Loading what="Counting $feature_flag_called events" /> : !usage.data.results.length ? (
        <Empty title="Not read yet">SDKs send <code>$feature_flag_called</code> when code reads the flag; none arrived in this period.</Empty>
      ) : (
        <table class="data">
          <caption class="sr-only">Usage</caption>
          <thead><tr><th scope="col">Value</th><th scope="col" class="num">Calls</th><th scope="col" class="num">Distinct ids</th></tr></thead>
          <tbody>
            {usage.data.results.map((r: any) => <tr key={String(r.value)}><th scope="row"><code>{r.value ?? "(none)"}</code></th><td class="num">{formatNumber(r.calls)}</td><td class="num">{formatNumber(r.distinct_ids)}</td></tr>)}
          </tbody>
          <tfoot><tr><th scope="row">Total</th><td class="num total">{formatNumber(usage.data.total_calls)}</td><td /></tr></tfoot>
        </table>
      )}
    </>
  );
}

const SHOWN_FIELDS: [string, string][] = [["key", "key"], ["name", "description"], ["active", "status"], ["filters", "conditions, variants or payloads"], ["ensure_experience_continuity", "continuity"], ["deleted", "deleted"]];

function changes(state: any, before: any | undefined): string {
  if (!before) return "Created";
  const changed = SHOWN_FIELDS.filter(([field]) => JSON.stringify(state?.[field]) !== JSON.stringify(before?.[field])).map(([, label]) => label);
  if (state?.active !== before?.active && changed.length === 1) return state.active ? "Activated" : "Disabled";
  return changed.length ? `Changed ${changed.join(", ")}` : "Saved without changes";
}

function History({ projectId, flagId, version }: { projectId: number; flagId: number; version: number }) {
  const versions = useAsync(() => get(`/api/projects/${projectId}/feature_flags/${flagId}/versions/`), [projectId, flagId, version]);
  if (versions.error) return <ErrorBox error={versions.error} title="Could not load the history" />;
  if (!versions.data) return <Loading what="Loading the history" />;
  const rows: any[] = versions.data.results; // newest first
  if (!rows.length) return <Empty title="No changes recorded" />;
  return (
    <table class="data">
      <caption class="sr-only">History</caption>
      <thead><tr><th scope="col" class="num">Version</th><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th></tr></thead>
      <tbody>
        {rows.map((v, i) => (
          <tr key={v.version}>
            <td class="num">{v.version}</td>
            <td>{formatTime(v.changed_at)}</td>
            <td>{v.changed_by ?? "—"}</td>
            <td>{changes(v.state, rows[i + 1]?.state)}<details><summary>The flag after it</summary><JsonView value={v.state} /></details></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function FlagPage({ projectId, flagId }: { projectId: number; flagId: number }) {
  const loaded = useAsync(() => get(`/api/projects/${projectId}/feature_flags/${flagId}/`), [projectId, flagId]);
  const [current, setCurrent] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setCurrent(null), [flagId]);
  if (loaded.error) return <><PageHeader title="Feature flag" /><ErrorBox error={loaded.error} title="Could not load the feature flag" /></>;
  if (!loaded.data) return <Loading what="Loading the feature flag" />;
  const flag = current ?? loaded.data;
  const remove = async () => {
    if (!confirm(`Delete the flag “${flag.key}”? SDKs stop getting it; its history stays.`)) return;
    try {
      await del(`/api/projects/${projectId}/feature_flags/${flagId}/`);
      navigate(`/project/${projectId}/feature_flags`);
    } catch (e) {
      setError(e);
    }
  };
  const variants: any[] = flag.filters?.multivariate?.variants ?? [];
  return (
    <>
      <PageHeader title={flag.key}>
        <StatusBadge active={flag.active} />
        <button type="button" class="danger" onClick={remove}>Delete flag</button>
      </PageHeader>
      {flag.name && <p class="lead">{flag.name}</p>}
      {error !== null && <ErrorBox error={error} title="Not deleted" />}
      <div class="stats">
        <div class="stat"><div class="stat-label">Release</div><div class="stat-text">{releaseSummary(flag)}</div></div>
        <div class="stat"><div class="stat-label">Value</div><div class="stat-text">{variants.length ? `${variants.length} variants` : "on / off"}</div></div>
        <div class="stat"><div class="stat-label">Version</div><div class="stat-text">{flag.version}</div></div>
        <div class="stat"><div class="stat-label">Last changed</div><div class="stat-text">{formatTime(flag.updated_at)}</div></div>
      </div>
      <section class="card" aria-labelledby="f-edit">
        <h2 id="f-edit">Conditions and value</h2>
        <Editor projectId={projectId} flag={flag} onSaved={setCurrent} key={flag.id} />
      </section>
      <div class="grid-2 top">
        <section class="card" aria-labelledby="f-usage">
          <h2 id="f-usage">Usage</h2>
          <Usage projectId={projectId} flagId={flagId} />
        </section>
        <section class="card" aria-labelledby="f-history">
          <h2 id="f-history">History</h2>
          <History projectId={projectId} flagId={flagId} version={flag.version} />
        </section>
      </div>
    </>
  );
}

export default function Flag({ projectId, params }: PageProps) {
  if (params.flagId === undefined)
    return (
      <>
        <PageHeader title="New feature flag" />
        <section class="card"><Editor projectId={projectId} flag={null} onSaved={() => undefined} /></section>
      </>
    );
  const id = Number(params.flagId);
  if (!Number.isInteger(id)) return <ErrorBox title="No such feature flag" error={`“${params.flagId}” is not a flag id.`} />;
  return <FlagPage projectId={projectId} flagId={id} />;
}
