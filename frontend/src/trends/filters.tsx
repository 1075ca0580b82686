// Property filters as rows of key, operator, value (and type): used by the trends
// builder and by the project's test-account filters.
import { OPERATORS, type PropertyFilter } from "./query";

const NO_VALUE = new Set(["is_set", "is_not_set"]);

function parseValue(text: string, operator: string): unknown {
  if (["gt", "lt", "gte", "lte"].includes(operator) && text.trim() !== "" && !isNaN(Number(text))) return Number(text);
  return text;
}

export function PropertyFilters({ filters, onChange, idPrefix, types = ["event", "person"], what = "filter" }: {
  filters: PropertyFilter[];
  onChange: (next: PropertyFilter[]) => void;
  idPrefix: string;
  types?: string[];
  what?: string;
}) {
  const set = (i: number, change: Partial<PropertyFilter>) =>
    onChange(filters.map((f, j) => (j === i ? { ...f, ...change } : f)));
  return (
    <div class="filters">
      {filters.map((f, i) => {
        const id = `${idPrefix}-${i}`;
        const operator = f.operator ?? "exact";
        return (
          <div class="filter-row" key={i} role="group" aria-label={`${what} ${i + 1}`}>
            <label class="sr-only" for={`${id}-type`}>Property type of {what} {i + 1}</label>
            <select id={`${id}-type`} value={f.type ?? "event"} onChange={(e) => set(i, { type: (e.target as HTMLSelectElement).value })}>
              {types.map((t) => (
                <option value={t} key={t}>{t === "event" ? "Event property" : t === "person" ? "Person property" : "HogQL"}</option>
              ))}
            </select>
            <label class="sr-only" for={`${id}-key`}>Property name of {what} {i + 1}</label>
            <input id={`${id}-key`} placeholder="$browser" value={f.key} onInput={(e) => set(i, { key: (e.target as HTMLInputElement).value })} />
            <label class="sr-only" for={`${id}-op`}>Operator of {what} {i + 1}</label>
            <select id={`${id}-op`} value={operator} onChange={(e) => set(i, { operator: (e.target as HTMLSelectElement).value })}>
              {OPERATORS.map(([value, text]) => (
                <option value={value} key={value}>{text}</option>
              ))}
            </select>
            {!NO_VALUE.has(operator) && (
              <>
                <label class="sr-only" for={`${id}-value`}>Value of {what} {i + 1}</label>
                <input id={`${id}-value`} placeholder="Chrome" value={f.value === undefined || f.value === null ? "" : String(f.value)}
                  onInput={(e) => set(i, { value: parseValue((e.target as HTMLInputElement).value, operator) })} />
              </>
            )}
            <button type="button" class="icon" aria-label={`Remove ${what} ${i + 1}`} onClick={() => onChange(filters.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        );
      })}
      <button type="button" class="secondary small" onClick={() => onChange([...filters, { key: "", operator: "exact", value: "", type: types[0] }])}>
        Add {what}
      </button>
    </div>
  );
}

/** Filters a query can use: the ones whose property name was filled in. */
export function completeFilters(filters: PropertyFilter[] | undefined): PropertyFilter[] {
  return (filters ?? []).filter((f) => f.key.trim() !== "");
}
