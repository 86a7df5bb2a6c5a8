"""The job engine: a handler per job kind, the steps they share, the runner behind an interface."""
