"""FastAPI application: the public HTTP contract (``/v1``)."""
