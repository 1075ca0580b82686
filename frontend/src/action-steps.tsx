// An action's steps as labelled controls: an event matches the action when it
// matches any step, and a step when it matches every part the step sets.
import type { ComponentChildren } from "preact";
import type { ActionStep, Matching } from "./actions";
import { PropertyFilters } from "./trends/filters";
import { Field } from "./ui";

/** The step parts a field error (``steps.1.selector``) can name, as the editor labels them. */
export const STEP_FIELDS: Record<string, string> = {
  event: "Event",
  url: "URL",
  url_matching: "URL matching",
  selector: "CSS selector",
  tag_name: "HTML tag",
  text: "Element text",
  text_matching: "Text matching",
  href: "Link href",
  href_matching: "Href matching",
  properties: "Property filters",
};

/** Where an API error points in the steps: ``steps.1.selector`` → step 1, "selector". */
export type StepProblem = { index: number; field: string | null; message: string };

export function stepProblem(attr: string | null, detail: string): StepProblem | null {
  const found = /^steps\.(\d+)(?:\.(\w+))?$/.exec(attr ?? "");
  if (!found) return null;
  // The detail repeats the place ("steps.1.selector: why"); beside the field, the why is enough.
  return { index: Number(found[1]), field: found[2] ?? null, message: detail.replace(/^steps\.[\w.]+:?\s*/, "") };
}

export const newStep = (): ActionStep => ({ event: "", url: "", url_matching: "contains", selector: "", text: "", text_matching: "exact", href: "", href_matching: "exact" });

/** The steps as the API takes them: blank parts unset, empty filter rows left out. */
export function cleanSteps(steps: ActionStep[]): ActionStep[] {
  const blank = (value: string | null | undefined) => (value ? value : null);
  return steps.map((s) => ({
    ...s,
    event: blank(s.event?.trim()),
    url: blank(s.url),
    selector: blank(s.selector?.trim()),
    tag_name: blank(s.tag_name?.trim()),
    text: blank(s.text),
    href: blank(s.href),
    properties: (s.properties ?? []).filter((f) => String(f.key ?? "").trim()),
  }));
}

const MATCHINGS: [Matching, string][] = [["contains", "contains"], ["exact", "equals"], ["regex", "matches regex"]];
// Magpie matches an element's text and link literally (a regex there is refused on save).
const LITERAL_MATCHINGS = MATCHINGS.filter(([m]) => m !== "regex");

function Text({ id, value, onInput, placeholder, invalid }: { id: string; value: string | null | undefined; onInput: (v: string) => void; placeholder?: string; invalid: boolean }) {
  return (
    <input id={id} value={value ?? ""} placeholder={placeholder} aria-invalid={invalid || undefined} aria-describedby={invalid ? `${id}-error` : undefined}
      onInput={(e) => onInput((e.target as HTMLInputElement).value)} />
  );
}

/** A text part with its matching beside it ("URL [contains] /pricing"), each control labelled. */
function Matched({ stepId, part, label, matchingLabel, value, matching, fallback, options, placeholder, hint, onChange, problemField, why }: {
  stepId: string; part: "url" | "text" | "href"; label: string; matchingLabel: string; value: string | null | undefined; matching: Matching | null | undefined; fallback: Matching;
  options: [Matching, string][]; placeholder: string; hint?: string; onChange: (value: string, matching: Matching) => void;
  problemField: (field: string) => boolean; why: (field: string) => ComponentChildren;
}) {
  const id = `${stepId}-${part}`;
  const current = matching ?? fallback;
  return (
    <Field label={label} id={id} hint={hint}>
      <div class="with-matching">
        <label class="sr-only" for={`${id}_matching`}>{matchingLabel}</label>
        <select id={`${id}_matching`} value={current} aria-invalid={problemField(`${part}_matching`) || undefined} aria-describedby={problemField(`${part}_matching`) ? `${id}_matching-error` : undefined}
          onChange={(e) => onChange(value ?? "", (e.target as HTMLSelectElement).value as Matching)}>
          {options.map(([m, text]) => <option value={m} key={m}>{text}</option>)}
        </select>
        <Text id={id} value={value} placeholder={placeholder} invalid={problemField(part)} onInput={(v) => onChange(v, current)} />
      </div>
      {why(part)}
      {why(`${part}_matching`)}
    </Field>
  );
}

function StepEditor({ step, index, onChange, onRemove, canRemove, onFocusEvent, problem }: {
  step: ActionStep; index: number; onChange: (s: ActionStep) => void; onRemove: () => void; canRemove: boolean; onFocusEvent: () => void; problem: StepProblem | null;
}) {
  const id = `action-step-${index}`;
  const of = `of step ${index + 1}`;
  const set = (change: Partial<ActionStep>) => onChange({ ...step, ...change });
  const bad = (field: string) => problem?.field === field;
  // The API's words, under the field they are about.
  const why = (field: string) => bad(field) && <small class="error-text" id={`${id}-${field}-error`}>{problem!.message}</small>;
  const shared = { problemField: bad, why };
  return (
    <fieldset class="series step" aria-label={`Step ${index + 1}`}>
      <legend>Step {index + 1}{index > 0 && <span class="muted"> (or)</span>}</legend>
      <div class="step-fields page-parts">
        <Field label={`Event ${of}`} id={`${id}-event`}>
          <input id={`${id}-event`} list="event-names" onFocus={onFocusEvent} value={step.event ?? ""} placeholder="Any event (leave empty)"
            aria-invalid={bad("event") || undefined} aria-describedby={bad("event") ? `${id}-event-error` : undefined}
            onInput={(e) => set({ event: (e.target as HTMLInputElement).value })} />
          {why("event")}
        </Field>
        <Matched stepId={id} part="url" label={`URL ${of}`} matchingLabel={`URL matching ${of}`} value={step.url} matching={step.url_matching} fallback="contains" options={MATCHINGS}
          placeholder="/pricing" hint="The page's $current_url" onChange={(url, url_matching) => set({ url, url_matching })} {...shared} />
      </div>
      <div class="step-part muted">On the autocaptured element (all optional):</div>
      <div class="step-fields">
        <Field label={`CSS selector ${of}`} id={`${id}-selector`}>
          <Text id={`${id}-selector`} value={step.selector} placeholder="button.cta" invalid={bad("selector")} onInput={(selector) => set({ selector })} />
          {why("selector")}
        </Field>
        <Field label={`HTML tag ${of}`} id={`${id}-tag_name`}>
          <Text id={`${id}-tag_name`} value={step.tag_name} placeholder="button" invalid={bad("tag_name")} onInput={(tag_name) => set({ tag_name })} />
          {why("tag_name")}
        </Field>
        <Matched stepId={id} part="text" label={`Element text ${of}`} matchingLabel={`Text matching ${of}`} value={step.text} matching={step.text_matching} fallback="exact" options={LITERAL_MATCHINGS}
          placeholder="Buy now" onChange={(text, text_matching) => set({ text, text_matching })} {...shared} />
        <Matched stepId={id} part="href" label={`Link href ${of}`} matchingLabel={`Href matching ${of}`} value={step.href} matching={step.href_matching} fallback="exact" options={LITERAL_MATCHINGS}
          placeholder="/checkout" onChange={(href, href_matching) => set({ href, href_matching })} {...shared} />
      </div>
      <div class="step-foot">
        <PropertyFilters idPrefix={`${id}-filter`} what={`filter on step ${index + 1}`} filters={step.properties ?? []} onChange={(properties) => set({ properties })} />
        {canRemove && <button type="button" class="secondary small" onClick={onRemove}>Remove step {index + 1}</button>}
      </div>
      {bad("properties") && <p class="error-text">{problem!.message}</p>}
      {problem && problem.field === null && <p class="error-text">{problem.message}</p>}
    </fieldset>
  );
}

export function StepsEditor({ steps, onChange, onFocusEvent, problem }: { steps: ActionStep[]; onChange: (s: ActionStep[]) => void; onFocusEvent: () => void; problem: StepProblem | null }) {
  return (
    <>
      {steps.map((s, i) => (
        <StepEditor key={i} step={s} index={i} onFocusEvent={onFocusEvent} canRemove={steps.length > 1} problem={problem?.index === i ? problem : null}
          onChange={(next) => onChange(steps.map((old, j) => (j === i ? next : old)))} onRemove={() => onChange(steps.filter((_, j) => j !== i))} />
      ))}
      <button type="button" class="secondary" disabled={steps.length >= 100} onClick={() => onChange([...steps, newStep()])}>Add step</button>
    </>
  );
}
