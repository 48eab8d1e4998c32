"""broadcaster: domain, planning, persistence, scheduling, client and CLI."""
