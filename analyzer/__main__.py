"""``python -m analyzer`` runs the command line, so the tool works without its entry point."""

from analyzer.cli import main

raise SystemExit(main())
