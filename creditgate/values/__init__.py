"""Value types shared by every layer: exact money and the identifiers the API accepts."""
