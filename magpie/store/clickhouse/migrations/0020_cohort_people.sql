-- A copy of the person store's cohort membership for the joins queries make.
-- Each computation writes its members and, marked deleted, the persons it
-- dropped, all with its version; reads take the latest row (FINAL) that is not
-- deleted, so the copy always shows one whole membership.
CREATE TABLE IF NOT EXISTS cohort_people (
    project_id Int64,
    cohort_id Int64,
    person_id UUID,
    version Int64,
    is_deleted UInt8 DEFAULT 0
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, cohort_id, person_id);
