"""Phones, beacons and stores that drive the real API over HTTP (nothing from backend/)."""
