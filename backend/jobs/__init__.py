"""Periodic work: one APScheduler runner, each job firing once across API processes."""
