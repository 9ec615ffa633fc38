"""Coaching notes: a manager on an agent's day, visit or plan, with actions for the planner."""
