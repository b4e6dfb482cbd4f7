"""Migration scripts; 0001 is the core schema, later revisions build on it."""
