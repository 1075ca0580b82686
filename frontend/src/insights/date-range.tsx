// The date range controls every insight builder shares: a preset, or custom dates.
import { useState } from "preact/hooks";
import { DATE_PRESETS } from "../trends/query";
import { Field } from "../ui";

export type DateRange = { date_from?: string | null; date_to?: string | null };

export function DateRangeFields({ value, onChange, fallback = "-7d" }: { value: DateRange | undefined; onChange: (next: DateRange) => void; fallback?: string }) {
  const preset = value?.date_from ?? fallback;
  const custom = !DATE_PRESETS.some(([p]) => p === preset) || value?.date_to;
  const [showCustom, setShowCustom] = useState(Boolean(custom));
  return (
    <>
      <Field label="Date range" id="date-range">
        <select id="date-range" value={showCustom ? "custom" : preset}
          onChange={(e) => {
            const picked = (e.target as HTMLSelectElement).value;
            if (picked === "custom") setShowCustom(true);
            else {
              setShowCustom(false);
              onChange({ date_from: picked, date_to: null });
            }
          }}>
          {DATE_PRESETS.map(([p, text]) => <option value={p} key={p}>{text}</option>)}
          <option value="custom">Custom dates</option>
        </select>
      </Field>
      {showCustom && (
        <>
          <Field label="From" id="date-from">
            <input id="date-from" type="date" value={/^\d{4}-\d{2}-\d{2}/.test(preset) ? preset.slice(0, 10) : ""}
              onChange={(e) => onChange({ ...value, date_from: (e.target as HTMLInputElement).value })} />
          </Field>
          <Field label="To" id="date-to">
            <input id="date-to" type="date" value={value?.date_to?.slice(0, 10) ?? ""}
              onChange={(e) => onChange({ ...value, date_to: (e.target as HTMLInputElement).value || null })} />
          </Field>
        </>
      )}
    </>
  );
}
