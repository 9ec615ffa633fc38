"""Customers and prospects."""
