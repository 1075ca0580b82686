// The project's actions: name, description, what their steps match, last change.
import { actionPage, listActions, stepsSummary } from "../actions";
import type { PageProps } from "../routes";
import { Empty, ErrorBox, formatTime, Loading, PageHeader, useAsync } from "../ui";

export default function Actions({ projectId }: PageProps) {
  const list = useAsync(() => listActions(projectId), [projectId]);
  const newHref = actionPage(projectId, "new");
  return (
    <>
      <PageHeader title="Actions">
        <a class="button" href={newHref}>New action</a>
      </PageHeader>
      <p class="lead">Named sets of steps: an event is the action when it matches any step (an event name, a page URL, the element it was on). Use one in a trend or a funnel in place of an event.</p>
      {list.error ? <ErrorBox error={list.error} title="Could not load the actions" /> : !list.data ? <Loading what="Loading actions" /> : !list.data.results.length ? (
        <Empty title="No actions yet"><a href={newHref}>Make one</a> from an event, a page URL or a clicked element; then count it in trends and funnels.</Empty>
      ) : (
        <table class="data">
          <caption class="sr-only">Actions</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Steps</th><th scope="col">Last updated</th></tr></thead>
          <tbody>
            {list.data.results.map((a) => (
              <tr key={a.id}>
                <td><a href={actionPage(projectId, a.id)}>{a.name}</a></td>
                <td>{a.description || <span class="muted">—</span>}</td>
                <td>{stepsSummary(a.steps)}</td>
                <td>{formatTime(a.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
