"""Where the files `make feature` and `make remove-feature` read and edit are."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
FEATURES_DIR = PROJECT_DIR / "features"
REGISTRY = FEATURES_DIR / "registry.py"
PERMISSIONS = FEATURES_DIR / "users" / "permissions.py"
