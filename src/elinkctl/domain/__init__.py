"""The pure domain: no I/O, `now` is always passed in."""
