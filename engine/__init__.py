"""formicary's orchestration engine: definitions, DAGs, scheduling, the store."""
