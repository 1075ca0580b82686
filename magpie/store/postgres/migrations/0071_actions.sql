-- Actions (PostHog's shape): a named OR of steps, each a step JSON object
-- ({event, url, url_matching, properties, tag_name, text, href, ...}). A deleted
-- action is kept (soft delete) so that old insights can say what it was.
CREATE TABLE actions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    steps JSONB NOT NULL,
    tags JSONB NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX actions_by_project ON actions (project_id, id);
