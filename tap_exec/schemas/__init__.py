"""JSON Schema files, one per stream (file stem == stream name)."""
