"""`python -m server` runs the command-line interface."""

from server.cli import main

raise SystemExit(main())
