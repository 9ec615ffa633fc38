"""What happened: an agent's day against its plan, team and store figures, the audit log."""
