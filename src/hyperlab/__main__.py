"""``python -m hyperlab``: the command line, as the ``hyperlab`` script runs it."""

from hyperlab.cli import main

raise SystemExit(main())
