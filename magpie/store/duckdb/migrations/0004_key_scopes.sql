-- What each personal API key may do and where. scopes: PostHog's scope names
-- as a JSON list ('*' for everything); scoped_teams: the project ids it
-- reaches as a JSON list, empty for every project (including ones created
-- later). Keys made before scopes existed keep everything, everywhere.
ALTER TABLE personal_api_keys ADD COLUMN scopes JSON DEFAULT '["*"]';
ALTER TABLE personal_api_keys ADD COLUMN scoped_teams JSON DEFAULT '[]';
ALTER TABLE personal_api_keys ADD COLUMN last_used_at TIMESTAMP;
