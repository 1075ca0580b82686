// Rules over persons, as cohorts and feature flags write them: one row per leaf
// (a person or group property, membership of a cohort, another flag's value, or
// for cohorts a behaviour), each with a visible label the browser tests find.
import type { ComponentChildren } from "preact";

export type Leaf = {
  type: string;
  key: string | number;
  value?: unknown;
  operator?: string;
  negation?: boolean;
  group_type_index?: number;
  [field: string]: unknown;
};

// The operators each side evaluates: flags in memory (magpie/flags/operators.py),
// cohorts in SQL (magpie/query/operators.py); docs/flags.md and docs/cohorts.md.
const COMMON: [string, string][] = [
  ["exact", "equals"],
  ["is_not", "does not equal"],
  ["icontains", "contains"],
  ["not_icontains", "does not contain"],
  ["regex", "matches regex"],
  ["not_regex", "does not match regex"],
  ["gt", "greater than"],
  ["gte", "at least"],
  ["lt", "less than"],
  ["lte", "at most"],
  ["is_set", "is set"],
  ["is_not_set", "is not set"],
  ["is_date_before", "is before (date)"],
  ["is_date_after", "is after (date)"],
];
export const FLAG_OPERATORS: [string, string][] = [
  ...COMMON,
  ["starts_with", "starts with"],
  ["ends_with", "ends with"],
  ["semver_gte", "version at least"],
  ["semver_lt", "version below"],
  ["semver_eq", "version equals"],
];
export const COHORT_OPERATORS: [string, string][] = [...COMMON, ["starts_with", "starts with"], ["ends_with", "ends with"]];

const NO_VALUE = new Set(["is_set", "is_not_set"]);
const NUMERIC = new Set(["gt", "gte", "lt", "lte"]);

export const BEHAVIOURS: [string, string][] = [
  ["performed_event", "did the event"],
  ["performed_event_multiple", "did the event a number of times"],
  ["performed_event_first_time", "did the event for the first time"],
  ["performed_event_sequence", "did the event, then another"],
  ["performed_event_regularly", "did the event regularly"],
  ["stopped_performing_event", "stopped doing the event"],
  ["restarted_performing_event", "started doing the event again"],
];
const INTERVALS = ["hour", "day", "week", "month", "year"];
const COUNT_OPERATORS: [string, string][] = [
  ["gte", "at least"],
  ["lte", "at most"],
  ["eq", "exactly"],
];

export function typedValue(text: string, operator: string): unknown {
  if (NUMERIC.has(operator) && text.trim() !== "" && !isNaN(Number(text))) return Number(text);
  return text;
}

export function newLeaf(type: string): Leaf {
  if (type === "behavioral")
    return { type, key: "", value: "performed_event", event_type: "events", time_value: 30, time_interval: "day" };
  if (type === "cohort") return { type, key: "id", value: "", operator: "in" };
  if (type === "flag") return { type, key: "", value: true, operator: "flag_evaluates_to" };
  if (type === "group") return { type, key: "", value: "", operator: "exact", group_type_index: 0 };
  return { type: "person", key: "", value: "", operator: "exact" };
}

/** A leaf the API can take: a named property, a chosen cohort or flag, an event. */
export function isComplete(leaf: Leaf): boolean {
  if (leaf.type === "cohort") return leaf.value !== "" && leaf.value !== undefined;
  return String(leaf.key).trim() !== "";
}

const TYPE_LABELS: Record<string, string> = {
  person: "Person property",
  group: "Group property",
  cohort: "In cohort",
  flag: "Another flag",
  behavioral: "Behaviour",
};

type Choice = { id: number; name: string };

export function LeafRow({ leaf, onChange, onRemove, id, label, types, operators, cohorts = [], flags = [] }: {
  leaf: Leaf;
  onChange: (next: Leaf) => void;
  onRemove: () => void;
  id: string;
  label: string; // "rule 1", "condition 1 property 2"
  types: string[];
  operators: [string, string][];
  cohorts?: Choice[];
  flags?: Choice[];
}) {
  const set = (change: Partial<Leaf>) => onChange({ ...leaf, ...change });
  const input = (name: string, field: string, props: Record<string, unknown> = {}) => (
    <>
      <label class="sr-only" for={`${id}-${field}`}>{name} of {label}</label>
      <input id={`${id}-${field}`} value={leaf[field] === undefined || leaf[field] === null ? "" : String(leaf[field])} {...props}
        onInput={(e) => {
          const text = (e.target as HTMLInputElement).value;
          set({ [field]: props.type === "number" ? (text === "" ? undefined : Number(text)) : text });
        }} />
    </>
  );
  const select = (name: string, field: string, options: [string, string][], parse: (v: string) => unknown = (v) => v) => (
    <>
      <label class="sr-only" for={`${id}-${field}`}>{name} of {label}</label>
      <select id={`${id}-${field}`} value={String(leaf[field] ?? "")} onChange={(e) => set({ [field]: parse((e.target as HTMLSelectElement).value) })}>
        {options.map(([value, text]) => <option value={value} key={value}>{text}</option>)}
      </select>
    </>
  );
  let body: ComponentChildren;
  if (leaf.type === "cohort") {
    body = (
      <>
        {select("Membership", "operator", [["in", "is in"], ["not_in", "is not in"]])}
        {select("Cohort", "value", [["", "Choose a cohort"], ...cohorts.map((c): [string, string] => [String(c.id), c.name || `Cohort ${c.id}`])], (v) => (v === "" ? "" : Number(v)))}
      </>
    );
  } else if (leaf.type === "flag") {
    body = (
      <>
        {select("Flag", "key", [["", "Choose a flag"], ...flags.map((f): [string, string] => [String(f.id), f.name])])}
        <label class="sr-only" for={`${id}-value`}>Value of {label}</label>
        <input id={`${id}-value`} placeholder="true, false or a variant" value={String(leaf.value ?? "")}
          onInput={(e) => {
            const text = (e.target as HTMLInputElement).value.trim();
            set({ value: text === "true" ? true : text === "false" ? false : text });
          }} />
      </>
    );
  } else if (leaf.type === "behavioral") {
    const kind = String(leaf.value);
    body = (
      <>
        <label class="check"><input type="checkbox" checked={!!leaf.negation} onChange={(e) => set({ negation: (e.target as HTMLInputElement).checked })} /> not</label>
        {select("Behaviour", "value", BEHAVIOURS)}
        {input("Event", "key", { placeholder: "purchase" })}
        {(kind === "performed_event_multiple" || kind === "performed_event_regularly") && (
          <>{select("Count comparison", "operator", COUNT_OPERATORS)}{input("Times", "operator_value", { type: "number", min: 0, class: "narrow" })}<span class="muted">times</span></>
        )}
        {kind === "performed_event_sequence" && <>{input("Then event", "seq_event", { placeholder: "then purchase" })}<span class="muted">within</span>{input("Within", "seq_time_value", { type: "number", min: 1, class: "narrow" })}{select("Within unit", "seq_time_interval", INTERVALS.map((i): [string, string] => [i, `${i}s`]))}</>}
        <span class="muted">{kind === "performed_event_regularly" ? "per period of" : "in the last"}</span>
        {input("Time", "time_value", { type: "number", min: 1, class: "narrow" })}
        {select("Time unit", "time_interval", INTERVALS.map((i): [string, string] => [i, `${i}s`]))}
        {(kind === "stopped_performing_event" || kind === "restarted_performing_event") && (
          <><span class="muted">but not in the last</span>{input("Not in the last", "seq_time_value", { type: "number", min: 1, class: "narrow" })}{select("Not in the last unit", "seq_time_interval", INTERVALS.map((i): [string, string] => [i, `${i}s`]))}</>
        )}
        {kind === "performed_event_regularly" && (
          <><span class="muted">in at least</span>{input("Periods", "min_periods", { type: "number", min: 1, class: "narrow" })}<span class="muted">of the last</span>{input("Of periods", "total_periods", { type: "number", min: 1, max: 100, class: "narrow" })}<span class="muted">periods</span></>
        )}
      </>
    );
  } else {
    const operator = leaf.operator ?? "exact";
    body = (
      <>
        {leaf.type === "group" && input("Group type index", "group_type_index", { type: "number", min: 0, max: 4, class: "narrow" })}
        {input("Property name", "key", { placeholder: "plan" })}
        {select("Operator", "operator", operators)}
        {!NO_VALUE.has(operator) && (
          <>
            <label class="sr-only" for={`${id}-value`}>Value of {label}</label>
            <input id={`${id}-value`} placeholder="pro" value={leaf.value === undefined || leaf.value === null ? "" : String(leaf.value)}
              onInput={(e) => set({ value: typedValue((e.target as HTMLInputElement).value, operator) })} />
          </>
        )}
      </>
    );
  }
  return (
    <div class="filter-row" role="group" aria-label={label}>
      <label class="sr-only" for={`${id}-type`}>Kind of {label}</label>
      <select id={`${id}-type`} value={leaf.type} onChange={(e) => onChange(newLeaf((e.target as HTMLSelectElement).value))}>
        {types.map((t) => <option value={t} key={t}>{TYPE_LABELS[t] ?? t}</option>)}
      </select>
      {body}
      <button type="button" class="icon" aria-label={`Remove ${label}`} onClick={onRemove}>×</button>
    </div>
  );
}

/** The API's error, with the field it names when there is one. */
export function fieldOf(error: unknown): string | null {
  return (error as { attr?: string | null })?.attr ?? null;
}
