"""The `campaign_send` job: start scheduled campaigns (one snapshot of each audience) and send
the queued recipients of every sending campaign, in batches claimed with
`SELECT … FOR UPDATE SKIP LOCKED` so any number of jobs processes share the work.

The exactly-once protocol (what a SIGKILL at any moment leaves, and why a row once handed to
the provider is never sent again) is described in `crm_app.services.campaigns.delivery`.
"""

from __future__ import annotations

import argparse
import logging
import time

from crm_app.services.campaigns import delivery

log = logging.getLogger(__name__)

RUN_SECONDS = 50.0


def run(run_seconds: float = RUN_SECONDS) -> delivery.RunReport:
    """One run: settle dead workers' rows, start due campaigns, send for up to `run_seconds`."""
    report = delivery.run(run_seconds)
    if report.batches:
        log.info(
            "campaign send finished",
            extra={
                "sent": report.sent,
                "failed": report.failed,
                "batches": report.batches,
                "sendgrid_calls": report.sendgrid_calls,
                "campaigns_finished": report.campaigns_finished,
            },
        )
    return report


def main() -> None:
    """`python -m jobs.campaign_send`: send until nothing is due (operators, the benchmark)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-seconds", type=float, default=RUN_SECONDS)
    parser.add_argument("--until-idle", action="store_true", help="repeat runs until idle")
    args = parser.parse_args()
    while True:
        report = run(args.run_seconds)
        print(
            {"sent": report.sent, "failed": report.failed, "calls": report.sendgrid_calls},
            flush=True,
        )
        if not args.until_idle:
            break
        if not report.batches:
            if not report.snapshots_elsewhere:
                break
            time.sleep(0.2)  # another process is snapshotting a due campaign: its rows come


if __name__ == "__main__":
    main()
