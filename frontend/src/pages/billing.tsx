// This month's usage, exactly as the billing API reports it.
import { useState } from "preact/hooks";
import { get, put } from "../api";
import type { PageProps } from "../routes";
import { ErrorBox, Field, formatNumber, Loading, PageHeader, useAsync } from "../ui";

function money(amount: number, currency: string): string {
  return amount.toLocaleString("en-US", { style: "currency", currency, maximumFractionDigits: 2 });
}

function Stat({ label, value, hint }: { label: string; value: string; hint?: string }) {
  const id = `stat-${label.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <div class="stat" role="group" aria-labelledby={id}>
      <div class="stat-label" id={id}>{label}</div>
      <div class="stat-value">{value}</div>
      {hint && <div class="muted">{hint}</div>}
    </div>
  );
}

function Quota({ projectId, quota, onSaved }: { projectId: number; quota: any; onSaved: () => void }) {
  const [events, setEvents] = useState(quota.max_events === null ? "" : String(quota.max_events));
  const [amount, setAmount] = useState(quota.max_amount === null ? "" : String(quota.max_amount));
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setDone(false);
    try {
      await put(`/api/projects/${projectId}/billing/quota/`, {
        max_events: events.trim() === "" ? null : Number(events),
        max_amount: amount.trim() === "" ? null : Number(amount),
      });
      setDone(true);
      onSaved();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <form class="savebar" onSubmit={save} aria-label="Quota">
      <Field label="Monthly limit in billable events" id="quota-events" hint="Empty: no limit">
        <input id="quota-events" inputMode="numeric" value={events} onInput={(e) => setEvents((e.target as HTMLInputElement).value)} />
      </Field>
      <Field label="Monthly limit in money" id="quota-amount" hint="Empty: no limit">
        <input id="quota-amount" inputMode="decimal" value={amount} onInput={(e) => setAmount((e.target as HTMLInputElement).value)} />
      </Field>
      <button type="submit">Save quota</button>
      {done && <span role="status">Saved.</span>}
      {error !== null && <ErrorBox error={error} title="Quota not saved" />}
    </form>
  );
}

export default function Billing({ projectId }: PageProps) {
  const usage = useAsync(() => get(`/api/projects/${projectId}/billing/usage/`), [projectId]);
  if (usage.error) return <ErrorBox error={usage.error} title="Could not load usage" />;
  if (!usage.data) return <Loading what="Loading usage" />;
  const u = usage.data;
  const currency = u.cost.currency;
  const left = Math.max(0, u.free_allowance - u.events.total);
  return (
    <>
      <PageHeader title={`Billing · ${u.period}`} />
      <p class="lead">Anonymous events (no person profile) cost less than identified ones; the first {formatNumber(u.free_allowance)} events of a month are free, whatever their kind.</p>
      <div class="stats">
        <Stat label="Anonymous events" value={formatNumber(u.events.anonymous)} hint={money(u.cost.anonymous, currency)} />
        <Stat label="Identified events" value={formatNumber(u.events.identified)} hint={money(u.cost.identified, currency)} />
        <Stat label="Billable events" value={formatNumber(u.events.total)} hint={`${formatNumber(u.events.excluded)} more excluded from billing`} />
        <Stat label="Free allowance left" value={formatNumber(left)} hint={`of ${formatNumber(u.free_allowance)}`} />
        <Stat label="Cost so far" value={money(u.cost.total, currency)} />
        <Stat label="Projected this month" value={money(u.projected.cost.total, currency)} hint={`${formatNumber(u.projected.events.total)} events`} />
      </div>
      <section class="card" aria-labelledby="by-lib">
        <h2 id="by-lib">By SDK and version</h2>
        <p class="muted">A change here after an SDK upgrade can mean anonymous events became identified ones.</p>
        {!u.by_lib.length ? <p>No events this month yet.</p> : (
          <table class="data">
            <caption class="sr-only">Usage by SDK and version</caption>
            <thead><tr><th scope="col">SDK</th><th scope="col">Version</th><th scope="col" class="num">Anonymous</th><th scope="col" class="num">Identified</th><th scope="col" class="num">Excluded</th></tr></thead>
            <tbody>
              {u.by_lib.map((row: any, i: number) => (
                <tr key={i}><td>{row.lib ?? "(unknown)"}</td><td>{row.lib_version ?? ""}</td><td class="num">{formatNumber(row.anonymous)}</td><td class="num">{formatNumber(row.identified)}</td><td class="num">{formatNumber(row.excluded)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card" aria-labelledby="quota">
        <h2 id="quota">Quota</h2>
        <p class="muted">
          {u.quota.limited ? <strong>Over quota: new events are being dropped. </strong> : null}
          {formatNumber(u.quota.dropped_events)} events dropped this month.
        </p>
        <Quota projectId={projectId} quota={u.quota} onSaved={usage.reload} />
      </section>
    </>
  );
}
