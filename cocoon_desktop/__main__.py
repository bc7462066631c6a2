"""`python -m cocoon_desktop` runs the command-line entry point."""

from cocoon_desktop.cli import main

raise SystemExit(main())
