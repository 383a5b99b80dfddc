"""``python -m service [--host H] [--port P] [--workers N]`` runs the service;
``python -m service evaluate BUNDLE.json`` evaluates a patient Bundle offline;
``python -m service report`` reports per rule on the card ledger; ``python -m service replay PATH`` replays a cohort
in silent mode."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "evaluate":
        from service.dev.offline import main as evaluate_main  # the CLI alone: no server start-up

        return evaluate_main(argv[1:])
    if argv and argv[0] == "report":
        from service.governance.report import main as report_main

        return report_main(argv[1:])
    if argv and argv[0] == "replay":
        from service.governance.replay import main as replay_main

        return replay_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    return serve(args.host, args.port, args.workers)


def serve(host: str, port: int, workers: int) -> int:
    import uvicorn

    from service.config import Settings, StartupRefused
    from service.ops import configure
    from service.startup import check_suggestion_templates, startup_check

    settings = Settings()
    configure(settings.log_level)
    try:
        # Checked here for a clean one-line refusal; the app checks again (and warns about dev mode) at start-up.
        startup_check(settings, announce=False)
        check_suggestion_templates()
    except StartupRefused as exc:
        print(f"axspa-cds: refusing to start: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
