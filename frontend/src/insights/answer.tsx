// One insight run and drawn, on the insight page and on a dashboard tile alike:
// the loading and error states, the kind's view, and the actors dialog its
// numbers open.
import { useMemo } from "preact/hooks";
import { runQuery, type QueryResponse } from "../api";
import { SqlResults } from "../pages/sql";
import { ErrorBox, Loading, useAsync } from "../ui";
import { useActors } from "./actors";
import { kindOf } from "./kinds";

export function InsightAnswer({ projectId, query, asTable = false, name, height, refresh = 0, compact = false }: {
  projectId: number; query: any; asTable?: boolean; name: string; height?: number; refresh?: number; compact?: boolean;
}) {
  const kind = kindOf(query?.kind);
  const sent = useMemo(() => (kind ? kind.clean(query) : query), [JSON.stringify(query)]);
  const known = Boolean(kind) || query?.kind === "HogQLQuery";
  // Each answer keeps the query it answers: while a changed query runs, the last
  // answer is still drawn by the view of its own query (a funnel's steps are not
  // its time-to-convert bins).
  const answer = useAsync<{ query: any; response: QueryResponse }>(
    () =>
      known
        ? runQuery(projectId, sent).then((response) => ({ query: sent, response }))
        : Promise.reject(new Error("This insight's query is not one Magpie can draw.")),
    [projectId, JSON.stringify(sent), refresh],
  );
  const [open, dialog] = useActors(projectId);
  if (answer.error) return <ErrorBox error={answer.error} title="This query did not run" />;
  if (!answer.data) return <Loading what="Running the query" />;
  const drawnKind = kindOf(answer.data.query?.kind);
  const body = drawnKind ? (
    <drawnKind.View query={answer.data.query} results={answer.data.response.results} asTable={asTable} name={name} height={height} open={open} compact={compact} />
  ) : (
    <SqlResults answer={answer.data.response} />
  );
  return (
    <div class={answer.loading ? "result stale" : "result"} aria-busy={answer.loading}>
      {body}
      {dialog}
    </div>
  );
}
