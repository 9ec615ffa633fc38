"""geofence."""
