// Saved insights, newest first.
import { get } from "../api";
import { KINDS as INSIGHT_KINDS } from "../insights/kinds";
import type { PageProps } from "../routes";
import { Empty, ErrorBox, formatTime, Loading, PageHeader, useAsync } from "../ui";

const KINDS: Record<string, string> = {
  ...Object.fromEntries(INSIGHT_KINDS.map((k) => [k.kind, k.label])),
  HogQLQuery: "SQL",
  InsightVizNode: "Trends",
};

export default function Insights({ projectId }: PageProps) {
  const list = useAsync(() => get(`/api/projects/${projectId}/insights/?limit=200`), [projectId]);
  return (
    <>
      <PageHeader title="Insights">
        <a class="button" href={`/project/${projectId}/insights/new`}>New insight</a>
      </PageHeader>
      {list.error ? <ErrorBox error={list.error} /> : !list.data ? <Loading what="Loading insights" /> : !list.data.results.length ? (
        <Empty title="No saved insights yet">Build a trend with <a href={`/project/${projectId}/insights/new`}>New insight</a>, or save a query from <a href={`/project/${projectId}/sql`}>SQL</a>.</Empty>
      ) : (
        <table class="data">
          <caption class="sr-only">Saved insights</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Short id</th><th scope="col">Last changed</th></tr></thead>
          <tbody>
            {list.data.results.map((i: any) => (
              <tr key={i.id}>
                <td><a href={`/project/${projectId}/insights/${i.short_id}`}>{i.name || "Untitled insight"}</a>{i.description && <div class="muted">{i.description}</div>}</td>
                <td>{KINDS[i.query?.kind] ?? i.query?.kind}</td>
                <td><code>{i.short_id}</code></td>
                <td>{formatTime(i.last_modified_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
