"""Project scripts: `make feature` (scripts/feature.py) and its helpers."""
