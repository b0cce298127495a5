"""``python -m grading``: the command line of :mod:`grading.cli`."""

from grading.cli import main

raise SystemExit(main())
