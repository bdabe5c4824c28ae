"""Entry script of the frozen app: the same `main()` as the `ecgviewer` console script.

`ecgviewer.app.main()` calls `multiprocessing.freeze_support()` before anything
else, which is what lets the inference worker (a "spawn" process) start from
the frozen executable.
"""

from ecgviewer.app import main

if __name__ == "__main__":
    raise SystemExit(main())
