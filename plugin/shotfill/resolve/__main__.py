"""``python -m shotfill.resolve scan|run|install|uninstall ...``: the same as ``shotfill resolve ...``."""

from shotfill.cli.resolve import main

raise SystemExit(main())
