-- Usage counters, added to in the same transaction as the person changes of
-- the events they count: one row per project, day of ingestion (UTC), SDK and
-- class of event. event_class: 'anonymous' | 'identified' | 'excluded';
-- excluded_event names the excluded event ('' otherwise).
CREATE TABLE usage_counters (
    project_id BIGINT NOT NULL,
    day DATE NOT NULL,
    lib TEXT NOT NULL,
    lib_version TEXT NOT NULL,
    event_class TEXT NOT NULL,
    excluded_event TEXT NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (project_id, day, lib, lib_version, event_class, excluded_event)
);

-- Events capture refused because the project was over its quota.
CREATE TABLE usage_dropped (
    project_id BIGINT NOT NULL,
    day DATE NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (project_id, day)
);

-- Optional monthly limits, in billable events and/or in money.
CREATE TABLE billing_quotas (
    project_id BIGINT PRIMARY KEY,
    max_events BIGINT,
    max_amount DOUBLE PRECISION
);

-- The price list in force (one row); absent means Magpie's default table.
CREATE TABLE billing_pricing (
    id INTEGER PRIMARY KEY,
    pricing JSONB NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
