"""Geofences and territories."""
