"""`python -m queries.cli …` runs the command line."""

from queries.cli import main

raise SystemExit(main())
