-- PostHog's is_remote_configuration: the flag delivers a configuration (its "true"
-- payload, read through .../remote_config) rather than gating a feature.
ALTER TABLE feature_flags ADD COLUMN is_remote_configuration BOOLEAN NOT NULL DEFAULT false;
