"""What every feature shares. Nothing in here imports from `features`."""
