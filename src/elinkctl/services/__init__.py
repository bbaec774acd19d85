"""Use cases: the procedure's steps over the store, for the CLI.

Each takes the `Context` (or the store, actor and now it carries) and plain
values, changes the store only through `Store.transaction`, and returns a
result with notes; the CLI prints them.
"""
