"""`overture serve`: the REST API, the scheduler and the workers in one process."""
