// The actors behind a number: an ActorsQuery page by page, in a dialog. Anonymous
// visitors (no person profile) are rows of their own, marked so.
import { useEffect, useRef, useState } from "preact/hooks";
import { runQuery } from "../api";
import { Empty, ErrorBox, Loading, useAsync } from "../ui";

export type ActorsSource = Record<string, unknown>;
/** What a chart asks for when a number is clicked: the actors source and a title. */
export type ActorsRequest = { source: ActorsSource; title: string };
export type OpenActors = (request: ActorsRequest) => void;

const PAGE = 20;

type Actor = {
  type: string;
  id: string;
  uuid?: string | null;
  distinct_ids?: string[];
  properties?: Record<string, unknown>;
  is_identified?: boolean;
  group_key?: string;
};

function ActorRow({ actor, projectId }: { actor: Actor; projectId: number }) {
  if (actor.type === "group")
    return (
      <tr>
        <td>{String(actor.properties?.name ?? actor.group_key ?? actor.id)}</td>
        <td><span class="badge ident">Group</span></td>
        <td><code>{actor.group_key ?? actor.id}</code></td>
      </tr>
    );
  const anonymous = !actor.uuid;
  const distinctId = actor.distinct_ids?.[0] ?? actor.id;
  const name = String(actor.properties?.email ?? actor.properties?.name ?? distinctId);
  return (
    <tr>
      <td>
        {anonymous ? (
          <span title="Anonymous visitors have no person profile">{name}</span>
        ) : (
          <a href={`/project/${projectId}/person/${encodeURIComponent(distinctId)}`}>{name}</a>
        )}
      </td>
      <td>
        <span class={`badge ${anonymous ? "anon" : "ident"}`}>{anonymous ? "Anonymous" : "Identified"}</span>
      </td>
      <td><code>{(actor.distinct_ids ?? [actor.id]).join(", ")}</code></td>
    </tr>
  );
}

export function ActorsDialog({ projectId, request, onClose }: { projectId: number; request: ActorsRequest; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [offset, setOffset] = useState(0);
  const query = { kind: "ActorsQuery", source: request.source, limit: PAGE, offset };
  const page = useAsync(() => runQuery(projectId, query), [projectId, JSON.stringify(query)]);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const rows = (page.data?.results ?? []).map((r: any[]) => r[0] as Actor);
  const hasMore = Boolean((page.data as any)?.hasMore);
  return (
    <dialog class="actors" ref={dialog} aria-labelledby="actors-title" onClose={onClose} onCancel={onClose}>
      <div class="card-head">
        <h2 id="actors-title">{request.title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={() => dialog.current?.close()}>×</button>
      </div>
      {page.error ? (
        <ErrorBox error={page.error} title="The actors did not load" />
      ) : !page.data ? (
        <Loading what="Finding the actors" />
      ) : !rows.length && offset === 0 ? (
        <Empty title="Nobody here">No actor is behind this number.</Empty>
      ) : (
        <div class={page.loading ? "result stale" : "result"} aria-busy={page.loading}>
          <table class="data">
            <caption class="sr-only">{request.title}</caption>
            <thead><tr><th scope="col">Actor</th><th scope="col">Kind</th><th scope="col">Distinct ids</th></tr></thead>
            <tbody>{rows.map((a) => <ActorRow actor={a} projectId={projectId} key={a.id} />)}</tbody>
          </table>
          <div class="pager">
            <button type="button" class="secondary small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous page</button>
            <span class="muted">{rows.length ? `${offset + 1}–${offset + rows.length}` : "none"}</span>
            <button type="button" class="secondary small" disabled={!hasMore} onClick={() => setOffset(offset + PAGE)}>Next page</button>
          </div>
        </div>
      )}
    </dialog>
  );
}

/** A dialog host for one chart: ``open`` shows the actors of a number. */
export function useActors(projectId: number): [OpenActors, preact.JSX.Element | null] {
  const [request, setRequest] = useState<ActorsRequest | null>(null);
  const dialog = request && <ActorsDialog key={JSON.stringify(request)} projectId={projectId} request={request} onClose={() => setRequest(null)} />;
  return [setRequest, dialog];
}
