"""Who may call the API: scoped API keys, and the audit log of every change."""
