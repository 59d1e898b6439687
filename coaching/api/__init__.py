"""REST: validate input → call a service or selector → serialize."""
