"""HogQL: the SQL users write against Magpie's virtual tables."""
