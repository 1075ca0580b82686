// The project's feature flags with their status: active or not, how far they
// roll out, their variants.
import { useState } from "preact/hooks";
import { get } from "../api";
import type { PageProps } from "../routes";
import { Empty, ErrorBox, Field, formatTime, Loading, PageHeader, useAsync } from "../ui";

/** "100% of everyone", "2 condition sets", as the flag's filters say. */
export function releaseSummary(flag: any): string {
  const groups: any[] = flag.filters?.groups ?? [];
  const who = flag.filters?.aggregation_group_type_index === undefined || flag.filters?.aggregation_group_type_index === null ? "persons" : "groups";
  if (!groups.length) return `no condition: off for all ${who}`;
  if (groups.length === 1 && !(groups[0].properties ?? []).length) {
    const rollout = groups[0].rollout_percentage;
    return `${rollout === null || rollout === undefined ? 100 : rollout}% of all ${who}`;
  }
  return `${groups.length} condition set${groups.length > 1 ? "s" : ""}`;
}

export function StatusBadge({ active }: { active: boolean }) {
  return <span class={`badge ${active ? "on" : "off"}`}>{active ? "Active" : "Disabled"}</span>;
}

export default function Flags({ projectId }: PageProps) {
  const [search, setSearch] = useState("");
  const [active, setActive] = useState("");
  const list = useAsync(
    () => get(`/api/projects/${projectId}/feature_flags/?limit=1000${search ? `&search=${encodeURIComponent(search)}` : ""}${active ? `&active=${active}` : ""}`),
    [projectId, search, active],
  );
  const newHref = `/project/${projectId}/feature_flags/new`;
  const filtered = search !== "" || active !== "";
  return (
    <>
      <PageHeader title="Feature flags">
        <a class="button" href={newHref}>New feature flag</a>
      </PageHeader>
      <form class="row" role="search" onSubmit={(e) => { e.preventDefault(); setSearch(((e.target as HTMLFormElement).elements.namedItem("q") as HTMLInputElement).value.trim()); }}>
        <Field label="Search keys and names" id="flag-search"><input id="flag-search" name="q" type="search" defaultValue={search} /></Field>
        <Field label="Status" id="flag-status">
          <select id="flag-status" value={active} onChange={(e) => setActive((e.target as HTMLSelectElement).value)}>
            <option value="">Any</option><option value="true">Active</option><option value="false">Disabled</option>
          </select>
        </Field>
        <button type="submit" class="secondary">Search</button>
      </form>
      {list.error ? <ErrorBox error={list.error} title="Could not load the feature flags" /> : !list.data ? <Loading what="Loading feature flags" /> : !list.data.results.length ? (
        filtered ? <Empty title="No flag matches">Try another search or status.</Empty> : (
          <Empty title="No feature flags yet"><a href={newHref}>Create one</a>, then read it with posthog-js or posthog-python (<code>isFeatureEnabled</code>, <code>feature_enabled</code>).</Empty>
        )
      ) : (
        <table class="data">
          <caption class="sr-only">Feature flags</caption>
          <thead><tr><th scope="col">Key</th><th scope="col">Status</th><th scope="col">Release</th><th scope="col">Variants</th><th scope="col">Last changed</th></tr></thead>
          <tbody>
            {list.data.results.map((f: any) => {
              const variants: any[] = f.filters?.multivariate?.variants ?? [];
              return (
                <tr key={f.id}>
                  <td><a href={`/project/${projectId}/feature_flags/${f.id}`}><code>{f.key}</code></a>{f.name && <div class="muted">{f.name}</div>}</td>
                  <td><StatusBadge active={f.active} /></td>
                  <td>{releaseSummary(f)}</td>
                  <td>{variants.length ? variants.map((v) => <code class="chip" key={v.key}>{v.key} {v.rollout_percentage}%</code>) : <span class="muted">on / off</span>}</td>
                  <td>{formatTime(f.updated_at)}{f.created_by?.email && <div class="muted">by {f.created_by.email}</div>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}
