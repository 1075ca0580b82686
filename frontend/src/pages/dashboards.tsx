// The project's dashboards, and a new one.
import { useState } from "preact/hooks";
import { get, post } from "../api";
import { navigate } from "../router";
import type { PageProps } from "../routes";
import { Empty, ErrorBox, Field, formatTime, Loading, PageHeader, useAsync } from "../ui";

export default function Dashboards({ projectId }: PageProps) {
  const boards = useAsync(() => get(`/api/projects/${projectId}/dashboards/`), [projectId]);
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const made = await post(`/api/projects/${projectId}/dashboards/`, { name: name.trim() || "New dashboard" });
      navigate(`/project/${projectId}/dashboard/${made.id}`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <PageHeader title="Dashboards" />
      <form class="savebar" onSubmit={create}>
        <Field label="New dashboard name" id="new-dashboard">
          <input id="new-dashboard" value={name} placeholder="Growth" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </Field>
        <button type="submit">Create dashboard</button>
        {error !== null && <ErrorBox error={error} title="Not created" />}
      </form>
      {boards.error ? <ErrorBox error={boards.error} /> : !boards.data ? <Loading what="Loading dashboards" /> : !boards.data.results.length ? (
        <Empty title="No dashboards">Create one above, then add saved insights to it from an insight's page.</Empty>
      ) : (
        <table class="data">
          <caption class="sr-only">Dashboards</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Created</th></tr></thead>
          <tbody>
            {boards.data.results.map((b: any) => (
              <tr key={b.id}><td><a href={`/project/${projectId}/dashboard/${b.id}`}>{b.name}</a></td><td>{b.description}</td><td>{formatTime(b.created_at)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
