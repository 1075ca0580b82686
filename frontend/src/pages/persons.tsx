// Identified persons only: anonymous visitors have no person profile.
import { useState } from "preact/hooks";
import { get } from "../api";
import type { PageProps } from "../routes";
import { Empty, ErrorBox, Field, formatTime, Loading, PageHeader, useAsync } from "../ui";

export default function Persons({ projectId }: PageProps) {
  const [search, setSearch] = useState("");
  const list = useAsync(() => get(`/api/projects/${projectId}/persons/?limit=100${search ? `&search=${encodeURIComponent(search)}` : ""}`), [projectId, search]);
  return (
    <>
      <PageHeader title="Persons" />
      <p class="lead">People with a person profile: those your product identified. Anonymous visitors are not persons; their events are in <a href={`/project/${projectId}/events`}>Live events</a>.</p>
      <form class="toolbar" role="search" onSubmit={(e) => { e.preventDefault(); setSearch(((e.target as HTMLFormElement).elements.namedItem("q") as HTMLInputElement).value.trim()); }}>
        <Field label="Search by distinct id or email" id="person-search">
          <input id="person-search" name="q" type="search" placeholder="ada@example.com" defaultValue={search} />
        </Field>
        <button type="submit" class="secondary">Search</button>
      </form>
      {list.error ? <ErrorBox error={list.error} /> : !list.data ? <Loading what="Loading persons" /> : !list.data.results.length ? (
        <Empty title={search ? `No person matches “${search}”` : "No identified persons yet"}>
          {search ? "Search finds distinct ids and property values." : <>Persons appear once your product calls <code>identify()</code>.</>}
        </Empty>
      ) : (
        <table class="data">
          <caption class="sr-only">Persons</caption>
          <thead><tr><th scope="col">Person</th><th scope="col">Email</th><th scope="col">Distinct ids</th><th scope="col">First seen</th><th scope="col">Last seen</th></tr></thead>
          <tbody>
            {list.data.results.map((p: any) => {
              const id = p.distinct_ids[0] ?? p.uuid;
              return (
                <tr key={p.uuid}>
                  <td><a href={`/project/${projectId}/person/${encodeURIComponent(id)}`}>{String(p.properties.email ?? p.properties.name ?? id)}</a></td>
                  <td>{p.properties.email ?? ""}</td>
                  <td>{p.distinct_ids.length}</td>
                  <td>{formatTime(p.created_at)}</td>
                  <td>{formatTime(p.last_seen_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}
