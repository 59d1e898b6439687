"""Domain actions. Each validates, persists in one transaction, then publishes on commit."""
