"""``python -m alert_receiver``: serve until stopped."""

from .server import main

raise SystemExit(main())
