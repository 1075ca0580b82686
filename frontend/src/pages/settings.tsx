// Project settings, new projects, personal API keys and users.
import { useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import { navigate } from "../router";
import type { PageProps } from "../routes";
import { projects } from "../shell";
import { PropertyFilters } from "../trends/filters";
import type { PropertyFilter } from "../trends/query";
import { Empty, ErrorBox, Field, formatTime, Loading, PageHeader, useAsync } from "../ui";

function ProjectForm({ project, onSaved }: { project: any; onSaved: () => void }) {
  const [name, setName] = useState(project.name);
  const [timezone, setTimezone] = useState(project.timezone);
  const [week, setWeek] = useState(String(project.week_start_day ?? 0));
  const [filters, setFilters] = useState<PropertyFilter[]>(project.test_account_filters ?? []);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const zones = (Intl as any).supportedValuesOf?.("timeZone") ?? [];
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setDone(false);
    try {
      await patch(`/api/projects/${project.id}/`, {
        name, timezone, week_start_day: Number(week),
        test_account_filters: filters.filter((f) => f.key.trim()).map((f) => ({ ...f, type: f.type ?? "event" })),
      });
      await projects(true);
      setDone(true);
      onSaved();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <form onSubmit={save} aria-label="Project settings">
      <div class="row">
        <Field label="Project name" id="project-name"><input id="project-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></Field>
        <Field label="Time zone" id="project-tz">
          <input id="project-tz" list="time-zones" value={timezone} onInput={(e) => setTimezone((e.target as HTMLInputElement).value)} />
        </Field>
        <datalist id="time-zones">{["UTC", ...zones].map((z: string) => <option value={z} key={z} />)}</datalist>
        <Field label="Weeks start on" id="project-week">
          <select id="project-week" value={week} onChange={(e) => setWeek((e.target as HTMLSelectElement).value)}>
            <option value="0">Sunday</option><option value="1">Monday</option>
          </select>
        </Field>
      </div>
      <fieldset>
        <legend>Test-account filters</legend>
        <p class="muted">Events matching all of these are left out when an insight filters out internal and test users.</p>
        <PropertyFilters idPrefix="test-filter" what="test-account filter" filters={filters} onChange={setFilters} types={["person", "event"]} />
      </fieldset>
      <div class="row">
        <button type="submit">Save project settings</button>
        {done && <span role="status">Saved.</span>}
      </div>
      {error !== null && <ErrorBox error={error} title="Not saved" />}
    </form>
  );
}

function NewProject() {
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const made = await post("/api/projects/", { name: name.trim() });
      await projects(true);
      navigate(`/project/${made.id}/onboarding`);
      location.reload(); // the switcher lists the new project
    } catch (e) {
      setError(e);
    }
  };
  return (
    <form class="savebar" onSubmit={create} aria-label="New project">
      <Field label="New project name" id="new-project"><input id="new-project" value={name} required onInput={(e) => setName((e.target as HTMLInputElement).value)} /></Field>
      <button type="submit" class="secondary">Create project</button>
      {error !== null && <ErrorBox error={error} title="Not created" />}
    </form>
  );
}

const READ_ONLY = ["event:read", "person:read", "query:read", "insight:read", "dashboard:read", "project:read", "billing:read"];

function Keys({ projectId }: { projectId: number }) {
  const keys = useAsync(() => get("/api/personal_api_keys/"), []);
  const [label, setLabel] = useState("");
  const [preset, setPreset] = useState("all");
  const [reach, setReach] = useState("all");
  const [made, setMade] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const key = await post("/api/personal_api_keys/", {
        label: label.trim(), scopes: preset === "all" ? ["*"] : READ_ONLY, scoped_teams: reach === "all" ? [] : [projectId],
      });
      setMade(key);
      setLabel("");
      keys.reload();
    } catch (e) {
      setError(e);
    }
  };
  const revoke = async (key: any) => {
    if (!confirm(`Revoke the key “${key.label}”? Anything using it stops working at once.`)) return;
    try {
      await del(`/api/personal_api_keys/${key.id}/`);
      keys.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <form class="savebar" onSubmit={create} aria-label="New personal API key">
        <Field label="Key label" id="key-label"><input id="key-label" value={label} required maxLength={40} placeholder="CI export" onInput={(e) => setLabel((e.target as HTMLInputElement).value)} /></Field>
        <Field label="Key may" id="key-scopes">
          <select id="key-scopes" value={preset} onChange={(e) => setPreset((e.target as HTMLSelectElement).value)}>
            <option value="all">Do everything (*)</option><option value="read">Read only</option>
          </select>
        </Field>
        <Field label="Key reaches" id="key-projects">
          <select id="key-projects" value={reach} onChange={(e) => setReach((e.target as HTMLSelectElement).value)}>
            <option value="all">Every project</option><option value="this">This project only</option>
          </select>
        </Field>
        <button type="submit">Create key</button>
      </form>
      {made && (
        <div class="state ok" role="status">
          <strong>Key “{made.label}” created. Copy it now: it is not shown again.</strong>
          <code class="secret" aria-label="New key value">{made.value}</code>
        </div>
      )}
      {error !== null && <ErrorBox error={error} />}
      {keys.error ? <ErrorBox error={keys.error} /> : !keys.data ? <Loading what="Loading keys" /> : !keys.data.length ? <Empty title="No personal API keys" /> : (
        <table class="data">
          <caption class="sr-only">Personal API keys</caption>
          <thead><tr><th scope="col">Label</th><th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Projects</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {keys.data.map((k: any) => (
              <tr key={k.id}>
                <td>{k.label}</td><td><code>{k.mask_value}</code></td><td>{k.scopes.join(", ")}</td>
                <td>{k.scoped_teams.length ? k.scoped_teams.join(", ") : "all"}</td>
                <td>{formatTime(k.created_at)}</td><td>{k.last_used_at ? formatTime(k.last_used_at) : "never"}</td>
                <td><button type="button" class="danger small" onClick={() => revoke(k)}>Revoke {k.label}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Users() {
  const users = useAsync(() => get("/api/users/"), []);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const add = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await post("/api/users/", { email, password });
      setEmail("");
      setPassword("");
      users.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      {users.data && (
        <ul class="ids">{users.data.results.map((u: any) => <li key={u.id}>{u.email} <span class="muted">since {formatTime(u.created_at)}</span></li>)}</ul>
      )}
      {users.error !== undefined && <ErrorBox error={users.error} />}
      <form class="savebar" onSubmit={add} aria-label="Add a user">
        <Field label="New user's email" id="user-email"><input id="user-email" type="email" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} /></Field>
        <Field label="Their first password" id="user-password"><input id="user-password" type="password" minLength={8} required autoComplete="new-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} /></Field>
        <button type="submit" class="secondary">Add user</button>
        {error !== null && <ErrorBox error={error} title="Not added" />}
      </form>
    </>
  );
}

export default function Settings({ projectId }: PageProps) {
  const project = useAsync(() => get(`/api/projects/${projectId}/`), [projectId]);
  return (
    <>
      <PageHeader title="Project settings" />
      <section class="card" aria-labelledby="s-project">
        <h2 id="s-project">This project</h2>
        {project.error ? <ErrorBox error={project.error} /> : !project.data ? <Loading /> : (
          <>
            <p class="muted">Project id {project.data.id} · token <code>{project.data.api_token}</code> (SDKs send it; it reads nothing)</p>
            <ProjectForm project={project.data} onSaved={project.reload} />
          </>
        )}
      </section>
      <section class="card" aria-labelledby="s-new"><h2 id="s-new">New project</h2><NewProject /></section>
      <section class="card" aria-labelledby="s-keys">
        <h2 id="s-keys">Personal API keys</h2>
        <p class="muted">For scripts and tools: <code>Authorization: Bearer phx_…</code>. Magpie keeps only a digest of each.</p>
        <Keys projectId={projectId} />
      </section>
      <section class="card" aria-labelledby="s-users"><h2 id="s-users">Users</h2><Users /></section>
    </>
  );
}
