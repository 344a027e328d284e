"""The fault-injection suite runs with `make faults` (KUMO_FAULTS=1), not in `make test`;
its fast subset is tests/doctor/test_faults_fast.py."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("KUMO_FAULTS") == "1" else ["test_*.py"]
