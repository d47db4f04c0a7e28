from shotfill.cli.app import main

raise SystemExit(main())
