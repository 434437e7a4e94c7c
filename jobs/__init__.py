"""The background jobs process: `python -m jobs` (see `jobs.scheduler` and `jobs.registry`)."""
