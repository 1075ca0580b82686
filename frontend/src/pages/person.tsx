// A person: properties, every distinct id, the identity history, and the events,
// the anonymous ones from before identify included and marked.
import { get } from "../api";
import type { PageProps } from "../routes";
import { Empty, ErrorBox, formatTime, JsonView, Loading, ModeBadge, PageHeader, useAsync } from "../ui";

// person_merges kinds: a new person (an identify joining an anonymous id makes one
// when neither had a person), an id joining an existing person, two persons merged.
const KIND: Record<string, string> = { create: "Person created", attach: "Distinct id joined", merge: "Merged another person" };

async function load(projectId: number, distinctId: string) {
  const found = await get(`/api/projects/${projectId}/persons/?distinct_id=${encodeURIComponent(distinctId)}`);
  if (!found.results.length) return null;
  const person = await get(`/api/projects/${projectId}/persons/${found.results[0].uuid}/`);
  const events = await get(`/api/projects/${projectId}/events/?person_id=${person.uuid}&limit=200`);
  return { person, events: events.results };
}

export default function Person({ projectId, params }: PageProps) {
  const data = useAsync(() => load(projectId, params.distinctId), [projectId, params.distinctId]);
  if (data.error) return <ErrorBox error={data.error} />;
  if (data.loading && !data.data) return <Loading what="Loading the person" />;
  if (!data.data)
    return (
      <>
        <PageHeader title={params.distinctId} />
        <Empty title="No person profile for this distinct id">It is an anonymous visitor: its events are anonymous until it is identified.</Empty>
      </>
    );
  const { person, events } = data.data;
  const props = person.properties as Record<string, unknown>;
  const title = String(props.email ?? props.name ?? params.distinctId);
  const identifiedAt = person.merge_history?.find((m: any) => m.event === "$identify" || m.kind !== "create")?.event_timestamp;
  return (
    <>
      <PageHeader title={title} />
      <p class="muted">Person <code>{person.uuid}</code> · first seen {formatTime(person.created_at)} · {person.is_identified ? "identified" : "not identified"}</p>
      <div class="grid-2 person-top">
        <section class="card" aria-labelledby="p-ids">
          <h2 id="p-ids">Distinct ids</h2>
          <ul class="ids">{person.distinct_ids.map((id: string) => <li key={id}><code>{id}</code></li>)}</ul>
        </section>
        <section class="card" aria-labelledby="p-history">
        <h2 id="p-history">Identity history</h2>
        {!person.merge_history?.length ? <Empty title="No identity changes recorded" /> : (
          <table class="data">
            <caption class="sr-only">Identity history</caption>
            <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Event</th><th scope="col">Distinct ids</th></tr></thead>
            <tbody>
              {person.merge_history.map((m: any, i: number) => (
                <tr key={i}>
                  <td>{formatTime(m.event_timestamp)}</td>
                  <td>{KIND[m.kind] ?? m.kind}{m.distinct_ids.length > 1 && <div class="muted">{m.distinct_ids.length} distinct ids joined</div>}{m.source_person_uuid && m.kind === "merge" ? <div class="muted">from person {m.source_person_uuid}</div> : null}</td>
                  <td><code>{m.event}</code>{m.event_uuid && <div class="muted">{m.event_uuid}</div>}</td>
                  <td>{m.distinct_ids.map((d: string) => <code key={d} class="chip">{d}</code>)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      </div>
      <section class="card" aria-labelledby="p-events">
        <h2 id="p-events">Events</h2>
        <p class="muted">Newest first. Events sent before identify stay anonymous (and billed as anonymous); they count for this person now.</p>
        {!events.length ? <Empty title="No events" /> : (
          <table class="data">
            <caption class="sr-only">Events of this person</caption>
            <thead><tr><th scope="col">Event</th><th scope="col">Kind</th><th scope="col">Distinct id</th><th scope="col">Time</th><th scope="col">Properties</th></tr></thead>
            <tbody>
              {events.map((e: any) => (
                <tr key={e.uuid} class={e.person_mode === "propertyless" ? "anon-row" : ""}>
                  <td><strong>{e.event}</strong></td>
                  <td><ModeBadge mode={e.person_mode} />{e.person_mode === "propertyless" && identifiedAt && e.timestamp <= identifiedAt && <span class="muted"> before identify</span>}</td>
                  <td><code>{e.distinct_id}</code></td>
                  <td>{formatTime(e.timestamp)}</td>
                  <td><details><summary>Properties</summary><JsonView value={e.properties} /></details></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
        <section class="card scroll" aria-labelledby="p-props">
          <h2 id="p-props">Properties</h2>
          {Object.keys(props).length ? (
            <table class="data compact">
              <caption class="sr-only">Person properties</caption>
              <tbody>{Object.entries(props).sort().map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td>{typeof v === "object" ? JSON.stringify(v) : String(v)}</td></tr>)}</tbody>
            </table>
          ) : <Empty title="No properties" />}
        </section>
    </>
  );
}
