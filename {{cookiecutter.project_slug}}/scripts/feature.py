"""`make feature` — not available yet in this version of the template."""

import sys

if __name__ == "__main__":
    sys.exit("error: `make feature` is not available yet in this version of the template.")
