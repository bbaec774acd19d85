"""Use cases that combine the pure domain with the store (no click here).

The CLI, `ingest` and the demo call these, so the rules of registration
live in one place.
"""
