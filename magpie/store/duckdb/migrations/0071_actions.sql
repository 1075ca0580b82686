-- Actions (PostHog's shape): a named OR of steps, each a step JSON object
-- ({event, url, url_matching, properties, tag_name, text, href, ...}). A deleted
-- action is kept (soft delete) so that old insights can say what it was.
CREATE SEQUENCE action_id_seq START 1;
CREATE TABLE actions (
    id BIGINT PRIMARY KEY DEFAULT nextval('action_id_seq'),
    project_id BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    steps JSON NOT NULL,
    tags JSON NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
