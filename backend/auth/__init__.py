"""Authentication, principals and access scopes."""
