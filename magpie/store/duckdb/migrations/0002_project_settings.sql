-- Per-project query settings: filters that mark internal/test users, and the
-- first day of the week for weekly buckets (0 Sunday, 1 Monday).
ALTER TABLE projects ADD COLUMN test_account_filters JSON DEFAULT '[]';
ALTER TABLE projects ADD COLUMN week_start_day INTEGER DEFAULT 0;
