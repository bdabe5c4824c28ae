"""`python -m ecgviewer` runs the same entry point as the `ecgviewer` command."""

import sys

from ecgviewer.app import main

if __name__ == "__main__":
    sys.exit(main())
