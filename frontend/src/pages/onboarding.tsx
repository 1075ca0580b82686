// Sending the first event: the snippets with this project's token and this
// server's address as the browser reached it, and a live indicator.
import { useState } from "preact/hooks";
import { get } from "../api";
import type { PageProps } from "../routes";
import { projects } from "../shell";
import { ErrorBox, Loading, PageHeader, useAsync, useInterval } from "../ui";

function Snippet({ title, code, id }: { title: string; code: string; id: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <section class="card" aria-labelledby={id}>
      <div class="card-head">
        <h2 id={id}>{title}</h2>
        <button type="button" class="secondary small" onClick={() => navigator.clipboard?.writeText(code).then(() => setCopied(true), () => undefined)}>
          {copied ? "Copied" : `Copy the ${title} snippet`}
        </button>
      </div>
      <pre class="code" aria-label={`${title} snippet`}><code>{code}</code></pre>
    </section>
  );
}

export default function Onboarding({ projectId }: PageProps) {
  const project = useAsync(async () => (await projects()).results.find((p) => p.id === projectId), [projectId]);
  const [first, setFirst] = useState<any | null>(null);
  const [pollError, setPollError] = useState<unknown>(null);
  const check = () =>
    get(`/api/projects/${projectId}/events/?limit=1`).then(
      (r) => {
        setPollError(null);
        if (r.results.length) setFirst(r.results[0]);
      },
      setPollError,
    );
  useInterval(check, first ? null : 1500);
  if (project.loading) return <Loading what="Loading the project" />;
  if (project.error || !project.data) return <ErrorBox error={project.error ?? "No such project"} />;
  const host = window.location.origin;
  const token = project.data.api_token;
  // Magpie serves no SDK code (nothing is fetched from a CDN either): the page
  // loads posthog-js's dist/array.js from wherever the site keeps it.
  const js = `<!-- posthog-js's dist/array.js (npm install posthog-js), served by your site -->
<script src="/js/posthog-array.js"></script>
<script>
  posthog.init('${token}', {
    api_host: '${host}',
    person_profiles: 'identified_only', // anonymous events until identify()
  })
</script>`;
  const npm = `npm install posthog-js

import posthog from 'posthog-js'
posthog.init('${token}', { api_host: '${host}' })`;
  const python = `pip install posthog

from posthog import Posthog
posthog = Posthog('${token}', host='${host}')
posthog.capture('signed_up', distinct_id='user-1')`;
  return (
    <>
      <PageHeader title="Send your first event" />
      <p class="lead">
        Magpie speaks PostHog's protocol: point an official PostHog SDK at <strong>{host}</strong> with this
        project's token, <code>{token}</code>. Events stay <strong>anonymous</strong> (cheaper, no person profile) until
        you call <code>identify()</code>.
      </p>
      <div role="status" aria-live="polite" class={`live-indicator ${first ? "ok" : "waiting"}`}>
        {first ? (
          <>
            <span class="dot" aria-hidden="true" /> First event received: <strong>{first.event}</strong> from{" "}
            <code>{first.distinct_id}</code>. <a href={`/project/${projectId}/events`}>See it in live events</a>
          </>
        ) : (
          <>
            <span class="dot pulse" aria-hidden="true" /> Waiting for the first event…
          </>
        )}
      </div>
      {pollError !== null && <ErrorBox error={pollError} title="Could not check for events" />}
      <Snippet id="snippet-web" title="Website (HTML)" code={js} />
      <Snippet id="snippet-npm" title="posthog-js (npm)" code={npm} />
      <Snippet id="snippet-python" title="posthog-python" code={python} />
    </>
  );
}
