from shotfill.cli import main

raise SystemExit(main())
