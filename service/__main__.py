"""``python -m service [--host H] [--port P] [--workers N]`` runs the service;
``python -m service evaluate BUNDLE.json`` evaluates a patient Bundle offline."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "evaluate":
        from service.offline import main as evaluate_main

        return evaluate_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    import uvicorn

    from service import logs
    from service.config import Settings
    from service.security import StartupRefused, startup_check

    settings = Settings()
    logs.configure(settings.log_level)
    try:
        # Checked here for a clean one-line refusal; the app checks again (and warns about dev mode) at start-up.
        startup_check(settings, announce=False)
    except StartupRefused as exc:
        print(f"axspa-cds: refusing to start: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        "service.app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
