-- Web UI accounts. Emails are kept as typed and compared in lower case;
-- password_hash is an argon2id hash (PHC string), never the password.
CREATE SEQUENCE user_id_seq START 1;
CREATE TABLE users (
    id BIGINT PRIMARY KEY DEFAULT nextval('user_id_seq'),
    email VARCHAR NOT NULL,
    email_key VARCHAR NOT NULL UNIQUE,
    password_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Server-side sessions: the cookie carries a random token, this table only
-- its SHA-256 digest, so a copy of the database logs no one in. Logging out
-- deletes the row.
CREATE TABLE user_sessions (
    token_digest VARCHAR PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- Saved insights (PostHog's /insights/): query is the insight's query JSON.
CREATE SEQUENCE insight_id_seq START 1;
CREATE TABLE insights (
    id BIGINT PRIMARY KEY DEFAULT nextval('insight_id_seq'),
    project_id BIGINT NOT NULL,
    short_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    query JSON NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_modified_at TIMESTAMP NOT NULL,
    UNIQUE (project_id, short_id)
);

-- Dashboards; filters holds a date range that overrides every tile's.
CREATE SEQUENCE dashboard_id_seq START 1;
CREATE TABLE dashboards (
    id BIGINT PRIMARY KEY DEFAULT nextval('dashboard_id_seq'),
    project_id BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    filters JSON NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE SEQUENCE dashboard_tile_id_seq START 1;
CREATE TABLE dashboard_tiles (
    id BIGINT PRIMARY KEY DEFAULT nextval('dashboard_tile_id_seq'),
    project_id BIGINT NOT NULL,
    dashboard_id BIGINT NOT NULL,
    insight_id BIGINT NOT NULL,
    UNIQUE (dashboard_id, insight_id)
);

-- Projects whose first dashboard was made: made once, not again once deleted.
CREATE TABLE default_dashboards_made (
    project_id BIGINT PRIMARY KEY,
    made_at TIMESTAMP NOT NULL
);
