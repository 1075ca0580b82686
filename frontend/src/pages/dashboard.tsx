// One dashboard: its tiles drawn, renamed, a date range for all of them, refresh,
// add and remove insights.
import { useState } from "preact/hooks";
import { get, patch } from "../api";
import { InsightAnswer } from "../insights/answer";
import type { PageProps } from "../routes";
import { DATE_PRESETS, unwrap, withDateRange } from "../trends/query";
import { Empty, ErrorBox, Field, Loading, PageHeader, useAsync } from "../ui";

function Tile({ projectId, tile, range, refresh, onRemove }: { projectId: number; tile: any; range: any; refresh: number; onRemove: () => void }) {
  const insight = tile.insight;
  const query = unwrap(insight.query);
  const effective = query ? withDateRange(query, range) : { kind: "unknown" };
  return (
    <article class="card tile" aria-labelledby={`tile-${tile.id}`}>
      <div class="card-head">
        <h2 id={`tile-${tile.id}`}><a href={`/project/${projectId}/insights/${insight.short_id}`}>{insight.name || "Untitled insight"}</a></h2>
        <button type="button" class="icon" aria-label={`Remove ${insight.name || "this insight"} from the dashboard`} onClick={onRemove}>×</button>
      </div>
      {insight.description && <p class="muted">{insight.description}</p>}
      <InsightAnswer projectId={projectId} query={effective} height={220} compact name={insight.name || "Untitled insight"} refresh={refresh} />
    </article>
  );
}

export default function Dashboard({ projectId, params }: PageProps) {
  const id = params.dashboardId;
  const board = useAsync(() => get(`/api/projects/${projectId}/dashboards/${id}/`), [projectId, id]);
  const insights = useAsync(() => get(`/api/projects/${projectId}/insights/?limit=500`), [projectId]);
  const [refresh, setRefresh] = useState(0);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [adding, setAdding] = useState("");
  const [error, setError] = useState<unknown>(null);
  const change = async (body: unknown) => {
    setError(null);
    try {
      await patch(`/api/projects/${projectId}/dashboards/${id}/`, body);
      board.reload();
    } catch (e) {
      setError(e);
    }
  };
  if (board.error) return <ErrorBox error={board.error} title="Could not open this dashboard" />;
  if (!board.data) return <Loading what="Loading the dashboard" />;
  const d = board.data;
  const range = d.filters?.date_from ? d.filters : undefined;
  const onBoard = new Set(d.tiles.map((t: any) => t.insight.id));
  const addable = (insights.data?.results ?? []).filter((i: any) => !onBoard.has(i.id));
  const add = async (event: Event) => {
    event.preventDefault();
    const insight = addable.find((i: any) => String(i.id) === adding);
    if (!insight) return;
    try {
      await patch(`/api/projects/${projectId}/insights/${insight.id}/`, { dashboards: [...insight.dashboards, d.id] });
      setAdding("");
      board.reload();
      insights.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <PageHeader title={d.name}>
        <button type="button" class="secondary" onClick={() => setRenaming(d.name)}>Rename</button>
        <button type="button" class="secondary" onClick={() => setRefresh((r) => r + 1)}>Refresh</button>
      </PageHeader>
      {renaming !== null && (
        <form class="savebar" onSubmit={(e) => { e.preventDefault(); change({ name: renaming.trim() || d.name }).then(() => setRenaming(null)); }}>
          <Field label="Dashboard name" id="dashboard-name">
            <input id="dashboard-name" value={renaming} onInput={(e) => setRenaming((e.target as HTMLInputElement).value)} autoFocus />
          </Field>
          <button type="submit">Save name</button>
          <button type="button" class="secondary" onClick={() => setRenaming(null)}>Cancel</button>
        </form>
      )}
      <div class="toolbar">
        <Field label="Date range for every tile" id="dashboard-range">
          <select id="dashboard-range" value={range?.date_from ?? ""} onChange={(e) => {
            const value = (e.target as HTMLSelectElement).value;
            change({ filters: value ? { date_from: value, date_to: null } : {} });
          }}>
            <option value="">Each insight's own</option>
            {DATE_PRESETS.map(([value, text]) => <option value={value} key={value}>{text}</option>)}
          </select>
        </Field>
        <form class="savebar inline" onSubmit={add}>
          <Field label="Add an insight" id="add-insight">
            <select id="add-insight" value={adding} onChange={(e) => setAdding((e.target as HTMLSelectElement).value)}>
              <option value="">Choose a saved insight…</option>
              {addable.map((i: any) => <option value={String(i.id)} key={i.id}>{i.name || "Untitled insight"}</option>)}
            </select>
          </Field>
          <button type="submit" class="secondary" disabled={!adding}>Add to dashboard</button>
        </form>
      </div>
      {error !== null && <ErrorBox error={error} title="Not changed" />}
      {!d.tiles.length ? (
        <Empty title="This dashboard is empty">Add a saved insight above, or build one in <a href={`/project/${projectId}/insights/new`}>New insight</a>.</Empty>
      ) : (
        <div class="tiles">
          {d.tiles.map((tile: any) => (
            <Tile key={tile.id} projectId={projectId} tile={tile} range={range} refresh={refresh}
              onRemove={() => change({ tiles: [{ id: tile.id, deleted: true }] })} />
          ))}
        </div>
      )}
    </>
  );
}
