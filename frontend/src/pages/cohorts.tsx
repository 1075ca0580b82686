// The project's cohorts: name, kind, size and when it was last calculated.
import { get } from "../api";
import type { PageProps } from "../routes";
import { Empty, ErrorBox, formatNumber, formatTime, Loading, PageHeader, useAsync } from "../ui";

export const COHORT_KINDS: Record<string, string> = {
  static: "Static list",
  person_property: "Person properties",
  behavioral: "Behaviour",
};

export default function Cohorts({ projectId }: PageProps) {
  const list = useAsync(() => get(`/api/projects/${projectId}/cohorts/?limit=1000`), [projectId]);
  const newHref = `/project/${projectId}/cohorts/new`;
  return (
    <>
      <PageHeader title="Cohorts">
        <a class="button" href={newHref}>New cohort</a>
      </PageHeader>
      <p class="lead">Named sets of persons: from a list of distinct ids, from person properties, or from what they did. Anonymous visitors have no person profile, so they are in no cohort.</p>
      {list.error ? <ErrorBox error={list.error} title="Could not load the cohorts" /> : !list.data ? <Loading what="Loading cohorts" /> : !list.data.results.length ? (
        <Empty title="No cohorts yet"><a href={newHref}>Make one</a> from a CSV of distinct ids, person properties or behaviour; then filter insights by it or target a feature flag at it.</Empty>
      ) : (
        <table class="data">
          <caption class="sr-only">Cohorts</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col" class="num">Persons</th><th scope="col">Last calculated</th></tr></thead>
          <tbody>
            {list.data.results.map((c: any) => (
              <tr key={c.id}>
                <td><a href={`/project/${projectId}/cohorts/${c.id}`}>{c.name || `Cohort ${c.id}`}</a>{c.description && <div class="muted">{c.description}</div>}</td>
                <td>{COHORT_KINDS[c.cohort_type] ?? c.cohort_type}</td>
                <td class="num">{c.count === null ? "—" : formatNumber(c.count)}</td>
                <td>{formatTime(c.last_calculation)}{c.errors_calculating > 0 && <div class="error-text">{c.errors_calculating} failed calculation{c.errors_calculating > 1 ? "s" : ""}</div>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
