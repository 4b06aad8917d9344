"""Infrastructure: settings, database engine and column types, the Temporal client."""
