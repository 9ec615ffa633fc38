"""Live updates: the tenant's feed of what just happened (positions, visits, plans, notes),
followed by every API process and streamed to managers and agents' apps (docs/live.md)."""
