"""One package per business capability. `make feature NAME=...` adds one."""
