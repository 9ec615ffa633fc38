"""Events out: signed webhooks through a transactional outbox."""
