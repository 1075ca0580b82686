"""Feature flags: evaluation and the responses the SDKs expect."""
