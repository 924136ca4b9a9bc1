"""Run the server: `python3 -m app --port 8000`."""

from __future__ import annotations

import sys

from app.server import main

sys.exit(main())
