"""Database: engine, base and models."""
