"""Runs localstripe for the tests: ``python -m tests.integration.localstripe_server --port P``.

The same server as its ``localstripe`` command, with two differences the tests need: it
listens on the loopback address only (the command listens on every interface), and it
keeps its state in memory (the command saves it to one fixed file in /tmp after every
change, which concurrent runs would share).
"""

from __future__ import annotations

import argparse

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
