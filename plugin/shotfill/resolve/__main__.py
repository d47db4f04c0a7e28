"""``python -m shotfill.resolve scan|run|install|uninstall ...``: the same as ``shotfill resolve ...``."""

from shotfill.resolve.commands import main

raise SystemExit(main())
