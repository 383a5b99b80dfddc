"""FAULT INJECTOR for bench/load.py: a "FHIR server" that accepts every connection, reads what it is sent, and
never answers. It is not a FHIR server and serves nothing; it only holds the service's outbound calls open until
the service's own time budget (CDS_FHIR_TIMEOUT_S) gives up on them.

    .venv/bin/python bench/hanging_fhir.py --port P      # prints "listening" once it accepts connections
"""

from __future__ import annotations

import argparse
import asyncio


class Hang(asyncio.Protocol):
    """Swallow the request bytes; send nothing; let the peer close."""

    def data_received(self, data: bytes) -> None:
        pass


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Hang, "127.0.0.1", port, backlog=1024)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
