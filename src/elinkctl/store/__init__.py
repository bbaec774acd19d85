"""The imperative shell around tickets: files, locking, git."""
