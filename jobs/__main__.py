"""`python -m jobs`: run the jobs process (one leader schedules, the others stand by)."""

import sys

from jobs.scheduler import main

sys.exit(main())
