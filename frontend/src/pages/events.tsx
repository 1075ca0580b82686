// Live events: newest first, refreshed every few seconds, filtered by event name
// and by one event property; each row says anonymous or identified.
import { useState } from "preact/hooks";
import { get } from "../api";
import type { PageProps } from "../routes";
import { useEventNames } from "../trends/builder";
import { Empty, ErrorBox, Field, JsonView, Loading, ModeBadge, PageHeader, relativeTime, useAsync, useDebounced, useInterval } from "../ui";

const LIMIT = 100;
type Row = {
  uuid: string; event: string; distinct_id: string; timestamp: string; properties: Record<string, unknown>;
  person_mode: string; person_id: string;
};

function loadEvents(projectId: number, event: string, key: string, value: string): Promise<Row[]> {
  const params = new URLSearchParams({ limit: String(LIMIT) });
  if (event) params.set("event", event);
  if (key) params.set("property", key);
  if (key && value) params.set("property_value", value);
  return get(`/api/projects/${projectId}/events/?${params}`).then((r) => r.results);
}

/** Which rows have a person: identified events, and the anonymous ones whose
 * distinct id was identified later (the same person id). */
function withPersons(rows: Row[]): Set<string> {
  const persons = new Set(rows.filter((r) => r.person_mode !== "propertyless").map((r) => r.person_id));
  return new Set(rows.filter((r) => persons.has(r.person_id)).map((r) => r.uuid));
}

export default function Events({ projectId }: PageProps) {
  const [event, setEvent] = useState("");
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [live, setLive] = useState(true);
  const [names, wantNames] = useEventNames(projectId);
  // Filters apply as you type, once typing pauses.
  const filters = useDebounced(JSON.stringify([event.trim(), key.trim(), value]), 300);
  const rows = useAsync(() => loadEvents(projectId, ...(JSON.parse(filters) as [string, string, string])), [projectId, filters]);
  useInterval(rows.reload, live ? 3000 : null);
  const toggle = (uuid: string) => {
    const next = new Set(open);
    next.has(uuid) ? next.delete(uuid) : next.add(uuid);
    setOpen(next);
  };
  return (
    <>
      <PageHeader title="Live events">
        <label class="check">
          <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} />
          Refresh every 3 seconds
        </label>
      </PageHeader>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="Event filters">
        <datalist id="live-event-names">{names.map((n) => <option value={n} key={n} />)}</datalist>
        <Field label="Event name" id="filter-event">
          <input id="filter-event" list="live-event-names" onFocus={wantNames} placeholder="Any event" value={event} onInput={(e) => setEvent((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Event property" id="filter-key">
          <input id="filter-key" placeholder="$browser" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Property value" id="filter-value" hint="Empty: the property is set">
          <input id="filter-value" placeholder="Chrome" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        </Field>
      </form>
      {rows.error ? (
        <ErrorBox error={rows.error} title="Could not load events" />
      ) : !rows.data ? (
        <Loading what="Loading events" />
      ) : !rows.data.length ? (
        <Empty title={event || key ? "No events match these filters" : "No events yet"}>
          {event || key ? "Clear a filter, or wait for new events: this list refreshes by itself." : <>Send one with an SDK: see <a href={`/project/${projectId}/onboarding`}>Get started</a>.</>}
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="data events">
            <caption class="sr-only">Events, newest first</caption>
            <thead>
              <tr><th scope="col">Event</th><th scope="col">Person</th><th scope="col">Kind</th><th scope="col">URL / screen</th><th scope="col">Time</th><th scope="col"><span class="sr-only">Details</span></th></tr>
            </thead>
            <tbody>
              {(() => { const linked = withPersons(rows.data); return rows.data.map((row) => {
                const expanded = open.has(row.uuid);
                const url = (row.properties.$current_url ?? row.properties.$screen_name ?? "") as string;
                return [
                  <tr key={row.uuid} class={expanded ? "expanded" : ""}>
                    <td><strong>{row.event}</strong></td>
                    <td>{linked.has(row.uuid) ? <a href={`/project/${projectId}/person/${encodeURIComponent(row.distinct_id)}`}>{row.distinct_id}</a> : <span title="Anonymous visitors have no person profile">{row.distinct_id}</span>}</td>
                    <td><ModeBadge mode={row.person_mode} /></td>
                    <td class="url">{url}</td>
                    <td><time dateTime={row.timestamp} title={row.timestamp}>{relativeTime(row.timestamp)}</time></td>
                    <td><button type="button" class="secondary small" aria-expanded={expanded} onClick={() => toggle(row.uuid)}>{expanded ? "Hide" : "Show"} properties of {row.event}</button></td>
                  </tr>,
                  expanded && (
                    <tr key={row.uuid + "-props"} class="props"><td colSpan={6}><JsonView value={row.properties} /></td></tr>
                  ),
                ];
              }); })()}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
