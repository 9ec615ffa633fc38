"""Personal data: erasing an agent's location history, auditing who read it."""
