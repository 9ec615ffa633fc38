"""Location ingest, the presence engine adapter, events and visits."""
