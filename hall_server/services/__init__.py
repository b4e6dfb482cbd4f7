"""Use cases of the hall server: one use case = one transaction."""
