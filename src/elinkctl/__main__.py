from elinkctl.entry import main

raise SystemExit(main())
