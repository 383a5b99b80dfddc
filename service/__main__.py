"""``python -m service [--host H] [--port P] [--workers N]`` runs the service;
``python -m service evaluate BUNDLE.json`` evaluates a patient Bundle offline;
``python -m service report`` reports per rule on the card ledger; ``python -m service replay PATH`` replays a cohort
in silent mode."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.config import Settings


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "evaluate":
        from service.dev.offline import main as evaluate_main  # the CLI alone: no server start-up

        return evaluate_main(argv[1:])
    if argv and argv[0] == "report":
        from service.governance.report import main as report_main

        return report_main(argv[1:])
    if argv and argv[0] == "replay":
        from service.governance.replay_cli import main as replay_main

        return replay_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    return serve(args.host, args.port, args.workers)


def serve(host: str, port: int, workers: int) -> int:
    import uvicorn

    from service.config import StartupRefused, load_settings
    from service.ops import configure
    from service.ops.connections import GuardedHttpToolsProtocol
    from service.ops.limits import ConnectionLimits, timeout_keep_alive
    from service.startup import check_suggestion_templates, startup_check

    try:
        settings = load_settings()
        configure(settings.log_level)
        # Checked here for a clean one-line refusal; the app checks again (and warns about dev mode) at start-up.
        startup_check(settings, announce=False)
        check_suggestion_templates()
    except StartupRefused as exc:
        print(f"axspa-cds: refusing to start: {exc}", file=sys.stderr)
        return 2
    announce_fd_limit(settings)
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=settings.access_log,
        proxy_headers=True,
        # Connection hygiene (README "Operations: limits"): uvicorn's httptools protocol with read timeouts, a
        # connection bound that sheds idle connections first, a drained 413 and quiet disconnects. Each worker
        # reads its limits from the same CDS_* settings. Not limit_concurrency: it counts idle connections and
        # answers 503 to new requests, so a slowloris holding the connections would lock trusted clients out.
        http=GuardedHttpToolsProtocol,
        ws="none",
        timeout_keep_alive=timeout_keep_alive(ConnectionLimits.from_settings(settings)),
        backlog=settings.backlog,
    )
    return 0


def announce_fd_limit(settings: Settings) -> None:
    """Raise the soft file-descriptor limit to the hard one (the workers inherit it) and say what it allows."""
    from service.ops.limits import connection_budget, raise_fd_limit

    log = logging.getLogger("axspa.connections")
    before, soft, hard = raise_fd_limit()
    budget = connection_budget(settings.max_connections, settings.fhir_max_connections, len(settings.fhir_allowlist))
    log.info("file descriptors: soft limit %d%s, hard limit %d; at most %d client connections per process",
             soft, f" (raised from {before})" if soft != before else "", hard, budget)
    if budget < settings.max_connections:
        log.warning("CDS_MAX_CONNECTIONS=%d is more than the file-descriptor limit allows: %d per process "
                    "(raise the hard limit, ulimit -Hn, to allow more)", settings.max_connections, budget)


if __name__ == "__main__":
    raise SystemExit(main())
