"""Tenants: creating one with its HQ and first admin."""
