// The numbers behind every chart: one row per series (and breakdown value, and
// compared period), one column per bucket, and the total.
import { breakdownText, type TrendResult } from "./query";
import { formatNumber } from "../ui";

export function TrendTable({ results, caption, pick, total = true }: {
  results: TrendResult[]; caption?: string; pick?: (row: number, bucket: number) => void;
  total?: boolean; // false where the buckets are rates, whose sum means nothing
}) {
  if (!results.length) return null;
  const labels = results[0].labels;
  const hasBreakdown = results.some((r) => r.breakdown_value !== undefined);
  const hasCompare = results.some((r) => r.compare_label);
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={caption ?? "Insight as a table"}>
      <table class="data trend-table">
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            <th scope="col">Series</th>
            {hasBreakdown && <th scope="col">Breakdown</th>}
            {hasCompare && <th scope="col">Period</th>}
            {total && (
              <th scope="col" class="num">
                Total
              </th>
            )}
            {labels.map((label) => (
              <th scope="col" class="num" key={label}>
                {label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {results.map((r, i) => (
            <tr key={i}>
              <th scope="row">{r.action?.custom_name || r.label}</th>
              {hasBreakdown && <td>{breakdownText(r.breakdown_value)}</td>}
              {hasCompare && <td>{r.compare_label}</td>}
              {total && <td class="num total">{formatNumber(r.count)}</td>}
              {r.data.map((value, j) => (
                <td class="num" key={j}>
                  {pick && value ? (
                    <button type="button" class="cell" aria-label={`Actors of ${r.action?.custom_name || r.label} on ${labels[j]}: ${formatNumber(value)}`} onClick={() => pick(i, j)}>
                      {formatNumber(value)}
                    </button>
                  ) : (
                    formatNumber(value)
                  )}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
