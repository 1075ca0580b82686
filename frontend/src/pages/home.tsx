// /project/{id}: the onboarding until the first event, then the first dashboard.
import { useEffect, useState } from "preact/hooks";
import { get } from "../api";
import { navigate } from "../router";
import type { PageProps } from "../routes";
import { ErrorBox, Loading } from "../ui";

export default function Home({ projectId }: PageProps) {
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    (async () => {
      const events = await get(`/api/projects/${projectId}/events/?limit=1`);
      if (!events.results.length) return navigate(`/project/${projectId}/onboarding`, { replace: true });
      const boards = await get(`/api/projects/${projectId}/dashboards/`);
      const first = boards.results[0];
      navigate(`/project/${projectId}/${first ? `dashboard/${first.id}` : "dashboard"}`, { replace: true });
    })().catch(setError);
  }, [projectId]);
  return error ? <ErrorBox error={error} /> : <Loading what="Opening the project" />;
}
