// The SQL editor: HogQL over this project's tables, listed beside it; results as
// a table; an error says where it is ("line 2, column 8"); a query can be saved.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, errorPosition, hogql, post, type QueryResponse } from "../api";
import { navigate } from "../router";
import type { PageProps } from "../routes";
import { Empty, ErrorBox, Field, formatNumber, Loading, PageHeader, useAsync } from "../ui";

const TABLES = ["events", "persons", "person_distinct_ids", "groups"];
const EXAMPLE = "SELECT event, count() AS events\nFROM events\nGROUP BY event\nORDER BY events DESC\nLIMIT 20";

function cell(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function SqlResults({ answer }: { answer: QueryResponse }) {
  const columns = answer.columns ?? [];
  if (!answer.results.length) return <Empty title="The query returned no rows" />;
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Query results">
      <table class="data">
        <caption class="sr-only">Query results</caption>
        <thead>
          <tr>{columns.map((c, i) => <th scope="col" key={i}>{c}</th>)}</tr>
        </thead>
        <tbody>
          {answer.results.map((row: unknown[], i) => (
            <tr key={i}>{row.map((v, j) => <td key={j} class={typeof v === "number" ? "num" : ""}>{cell(v)}</td>)}</tr>
          ))}
        </tbody>
      </table>
      <p class="muted">{answer.results.length.toLocaleString("en-US")} rows</p>
    </div>
  );
}

function Schema({ projectId, onPick }: { projectId: number; onPick: (text: string) => void }) {
  // The columns SELECT * lists, asked of the query API itself, so they are exactly HogQL's.
  const schema = useAsync(
    () => Promise.all(TABLES.map((t) => hogql(projectId, `SELECT * FROM ${t} LIMIT 0`).then((r) => ({ table: t, columns: r.columns ?? [], types: r.types ?? [] })))),
    [projectId],
  );
  return (
    <aside class="schema card" aria-labelledby="schema-title">
      <h2 id="schema-title">Tables</h2>
      {schema.error ? <ErrorBox error={schema.error} title="Could not list the tables" /> : !schema.data ? <Loading what="Listing tables" /> : (
        schema.data.map(({ table, columns, types }) => (
          <details open={table === "events"} key={table}>
            <summary>{table}</summary>
            <ul aria-label={`Columns of ${table}`}>
              {columns.map((c, i) => (
                <li key={c}>
                  <button type="button" class="link" onClick={() => onPick(c)} aria-label={`Insert column ${c} of ${table}`}>{c}</button>
                  <span class="muted"> {String(types[i] ?? "").toLowerCase()}</span>
                </li>
              ))}
              {table === "events" && <li class="muted">person.properties.*, properties.*</li>}
            </ul>
          </details>
        ))
      )}
    </aside>
  );
}

export default function Sql({ projectId }: PageProps) {
  const initial = location.hash.startsWith("#q=") ? decodeURIComponent(location.hash.slice(3)) : EXAMPLE;
  const [text, setText] = useState(initial);
  const [answer, setAnswer] = useState<QueryResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState(false);
  const [name, setName] = useState("");
  const [saveError, setSaveError] = useState<unknown>(null);
  const editor = useRef<HTMLTextAreaElement>(null);

  const run = async () => {
    setRunning(true);
    setError(null);
    history.replaceState(null, "", location.pathname + "#q=" + encodeURIComponent(text));
    try {
      setAnswer(await hogql(projectId, text));
    } catch (e) {
      setAnswer(null);
      setError(e);
    } finally {
      setRunning(false);
    }
  };
  useEffect(() => {
    if (location.hash.startsWith("#q=")) run();
  }, []);

  const save = async (event: Event) => {
    event.preventDefault();
    setSaveError(null);
    try {
      const saved = await post(`/api/projects/${projectId}/insights/`, { name: name.trim() || "SQL insight", query: { kind: "HogQLQuery", query: text } });
      navigate(`/project/${projectId}/insights/${saved.short_id}`);
    } catch (e) {
      setSaveError(e);
    }
  };
  const insert = (word: string) => {
    const area = editor.current;
    if (!area) return setText(text + word);
    const at = area.selectionStart ?? text.length;
    setText(text.slice(0, at) + word + text.slice(area.selectionEnd ?? at));
    area.focus();
  };
  const position = error instanceof ApiError ? errorPosition(error.detail) : null;
  return (
    <>
      <PageHeader title="SQL" />
      <div class="sql-layout">
        <div>
          <form onSubmit={(e) => { e.preventDefault(); run(); }} aria-label="SQL editor">
            <Field label="SQL query (HogQL)" id="sql-editor" hint="Ctrl+Enter runs it. {name} placeholders are not filled here.">
              <textarea id="sql-editor" ref={editor} class="code" rows={10} spellcheck={false} value={text}
                onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
                onKeyDown={(e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } }} />
            </Field>
            <div class="row">
              <button type="submit" disabled={running}>{running ? "Running…" : "Run query"}</button>
            </div>
          </form>
          {error !== null && (
            <div class="state error" role="alert">
              <strong>{position ? `Error at line ${position.line}, column ${position.column}` : "The query did not run"}</strong>
              <div>{error instanceof ApiError ? error.detail : String(error)}</div>
              {position && <pre class="code error-context" aria-hidden="true">{marker(text, position.line, position.column)}</pre>}
            </div>
          )}
          {running && !answer && <Loading what="Running the query" />}
          {answer && (
            <section class="card" aria-label="Results">
              <SqlResults answer={answer} />
              <form class="savebar" onSubmit={save}>
                <Field label="Name for the saved insight" id="sql-insight-name">
                  <input id="sql-insight-name" value={name} placeholder="SQL insight" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
                </Field>
                <button type="submit" class="secondary">Save as insight</button>
                {saveError !== null && <ErrorBox error={saveError} title="Not saved" />}
              </form>
            </section>
          )}
        </div>
        <Schema projectId={projectId} onPick={insert} />
      </div>
    </>
  );
}

/** The line at fault with a caret under the column. */
function marker(text: string, line: number, column: number): string {
  const source = text.split("\n")[line - 1] ?? "";
  return `${source}\n${" ".repeat(Math.max(0, column - 1))}^`;
}
