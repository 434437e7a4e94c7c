"""The production web server of the run command: Reflex's build, then its Granian backend.

`reflex run --env prod` compiles the app and builds the frontend in its own process, then serves
from that same process: Granian's supervisor, which forks the workers. The compile's memory (the
whole app imported, every page compiled: about 200 MB) then stays in a process that only watches
its workers. Here the two steps are two processes:

- `python -m crm_app.web build --port N` runs Reflex's own `run` command with the serving step
  left out (compile, frontend build, the port written into the frontend's config) and exits;
- `python -m crm_app.web serve --port N [--workers N]` starts the Granian backend with the
  compiled frontend mounted, as `run --single-port` does. With one worker its supervisor never
  imports the app: the worker is spawned and imports it alone. With several, Reflex's launcher
  imports the app once before forking them, so they share its pages.

Both steps go through Reflex's code, so what is built and served is what `reflex run` would
build and serve; only the process layout differs.
"""

from __future__ import annotations

import argparse
import os
import sys

APP_TARGET = "crm_app.crm_app:app"


def build(port: int) -> int:
    from reflex.reflex import cli
    from reflex.utils import exec as reflex_exec

    def skipped(*_args: object, **_kwargs: object) -> None:
        """Reflex's `run` ends by announcing and serving the app; `serve` does that here."""

    for step in ("notify_app_running", "notify_frontend", "run_backend_prod"):
        setattr(reflex_exec, step, skipped)
    # fmt: off
    args = ["run", "--env", "prod", "--single-port", "--frontend-port", str(port),
            "--backend-port", str(port), "--loglevel", "warning"]
    # fmt: on
    cli.main(args, prog_name="reflex", standalone_mode=False)
    return 0


def serve(host: str, port: int, workers: int) -> int:
    from reflex_base import constants
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)  # `build` compiled it
    environment.REFLEX_MOUNT_FRONTEND_COMPILED_APP.set(True)
    os.environ["GRANIAN_WORKERS"] = str(workers)
    if workers > 1:
        from reflex.utils import exec as reflex_exec

        # Reflex imports the app here before forking the workers, so they share its pages.
        reflex_exec.run_granian_backend_prod(host, port, constants.LogLevel.WARNING)
        return 0
    # One worker has nothing to share: it is spawned and imports the app, and this process
    # never does (Reflex's launcher would read the app's config here, which imports it). The
    # server is the one Reflex's launcher builds.
    import multiprocessing

    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    multiprocessing.set_start_method("spawn", force=True)
    server = Server(
        target=APP_TARGET,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        log_level=LogLevels(os.getenv("GRANIAN_LOG_LEVEL", constants.LogLevel.WARNING.value)),
        workers=1,
    )
    server.serve()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_app.web", description=__doc__)
    parser.add_argument("step", choices=("build", "serve"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.step == "build":
        return build(args.port)
    return serve(args.host, args.port, args.workers)


if __name__ == "__main__":
    sys.exit(main())
