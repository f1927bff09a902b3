"""The ``myagent`` console script."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from myagent._version import __version__
from myagent.cli.chat import add_chat_arguments, run_chat
from myagent.cli.server import add_server_arguments, run_server

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="myagent", description="Serve tool-calling agents over WebSocket.")
    parser.add_argument("--version", action="version", version=f"myagent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_server_arguments(commands.add_parser("server", help="serve the agent defined in FILE over WebSocket"))
    add_chat_arguments(commands.add_parser("chat", help="chat with an agent server from the terminal"))
    args = parser.parse_args(argv)
    if args.command == "chat":
        return run_chat(args)
    return run_server(args)


if __name__ == "__main__":
    sys.exit(main())
