"""Shared building blocks: CRUD services, pagination, geometry adapters."""
