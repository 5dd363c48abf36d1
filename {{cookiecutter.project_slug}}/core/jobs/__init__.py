"""Background jobs on taskiq: declare with `@job`, list in `features/registry.py`, `enqueue`.

docs/adr/0001-background-jobs.md says why taskiq and what this package adds to it.
"""
