"""``python -m myagent.cli.server server FILE`` (and ``myagent server FILE``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from myagent.config import env_value
from myagent.errors import ConfigError

__all__ = ["add_server_arguments", "main", "run_server"]

if TYPE_CHECKING:
    from myagent.ws.server import AgentWebSocketServer

EXIT_USAGE = 2
logger = logging.getLogger(__name__)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="Python file defining create_agent(), agent_factory or agent")
    parser.add_argument("--host", default="localhost", help="interface to bind (default: localhost)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default: 8080)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--state-secret-key",
        default=None,
        help="key signing client-held session state (default: $MYAGENT_STATE_SECRET)",
    )
    parser.add_argument(
        "--state-previous-key",
        action="append",
        default=None,
        metavar="KEY",
        help="an older state key still accepted when restoring (repeatable; default: $MYAGENT_STATE_PREVIOUS_KEYS, "
        "comma-separated)",
    )
    parser.add_argument("--state-encrypt", action="store_true", default=None, help="encrypt exported session states")
    parser.add_argument("--grace-period", type=float, default=None, help="seconds a session outlives its connection")
    parser.add_argument(
        "--lease-ttl",
        type=float,
        default=None,
        help="seconds a node's hold on a session's run lasts unless renewed; with --redis-url, another node "
        "takes the session over this long after its node stopped",
    )
    parser.add_argument("--heartbeat-interval", type=float, default=None, help="seconds between heartbeats")
    parser.add_argument("--confirm-timeout", type=float, default=None, help="seconds a confirmation stays open")
    parser.add_argument("--language", choices=["zh", "en"], default=None, help="language of status texts")
    parser.add_argument(
        "--redis-url",
        default=None,
        help="share sessions with other processes through this Redis, e.g. redis://localhost:6379/0 "
        "(default: $MYAGENT_REDIS_URL; unset: in-memory, one process)",
    )
    parser.add_argument(
        "--send-llm-messages",
        action="store_true",
        default=None,
        help="emit agent.llm_message events (default: $SEND_LLM_MESSAGE)",
    )
    _add_security_arguments(parser)
    parser.add_argument(
        "--otel",
        action="store_true",
        default=None,
        help="export OpenTelemetry traces over OTLP/HTTP (default: $MYAGENT_OTEL; endpoint from the OTEL_* variables)",
    )
    parser.add_argument(
        "--otel-capture-content",
        action="store_true",
        default=None,
        help="record prompts, answers and tool arguments on spans "
        "(default: $OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)",
    )


#: Numeric server options with a command-line flag: (option, type, help). Defaults: ServerOptions.
_LIMITS: list[tuple[str, type, str]] = [
    ("max_message_bytes", int, "largest client frame in bytes (also the transport's limit)"),
    ("max_sessions", int, "sessions the server holds at once"),
    ("max_sessions_per_connection", int, "sessions one connection may hold"),
    ("max_sessions_per_client", int, "live sessions per principal (per address with auth off)"),
    ("max_connections_per_client", int, "open connections per principal (per address with auth off)"),
    ("frames_per_second", float, "client frames per second per connection (average)"),
    ("frame_burst", int, "client frames a connection may send at once"),
    ("outbound_buffer_bytes", int, "bytes queued for a client before it counts as too slow (4008)"),
    ("failed_attempts_free", int, "failed resume/restore attempts per address before back-off"),
    ("failed_attempts_window", float, "seconds over which failed attempts are counted"),
    ("auth_timeout", float, "seconds to send user.authenticate when the handshake carried no token"),
    ("state_max_age", float, "seconds a signed state stays valid"),
]


def _add_security_arguments(parser: argparse.ArgumentParser) -> None:
    """Authentication, the Origin allowlist and every limit (docs/security.md)."""
    group = parser.add_argument_group("security and limits (docs/security.md)")
    group.add_argument(
        "--allowed-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="an Origin admitted at the handshake, e.g. https://app.example or http://localhost:* (repeatable; "
        "replaces the default localhost/127.0.0.1/null list; '*' turns the check off)",
    )
    group.add_argument("--auth", default=None, metavar="MODULE:FUNCTION", help="your authenticate(handshake) hook")
    group.add_argument("--jwt-secret", default=None, help="accept HS256 JWTs signed with this secret (>= 32 bytes)")
    group.add_argument("--jwt-public-key", default=None, metavar="FILE", help="accept RS256 JWTs (PEM public key)")
    group.add_argument("--jwt-audience", action="append", default=None, help="required JWT audience (repeatable)")
    group.add_argument("--jwt-issuer", default=None, help="required JWT issuer")
    for option, kind, text in _LIMITS:
        group.add_argument(f"--{option.replace('_', '-')}", type=kind, default=None, help=text)


def _security_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {option: getattr(args, option, None) for option, _, _ in _LIMITS}
    origins = getattr(args, "allowed_origin", None)
    options["allowed_origins"] = tuple(origins) if origins else None
    return options


def _authenticator(args: argparse.Namespace) -> Any:
    """The authenticator the flags describe, or ``None`` (authentication off, the default)."""
    from myagent.auth.loader import build_authenticator

    return build_authenticator(
        auth=getattr(args, "auth", None),
        jwt_secret=getattr(args, "jwt_secret", None),
        jwt_public_key_file=getattr(args, "jwt_public_key", None),
        jwt_audience=getattr(args, "jwt_audience", None),
        jwt_issuer=getattr(args, "jwt_issuer", None),
    )


def run_server(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    provider = _start_tracing(args)
    try:
        return asyncio.run(_serve(args))
    except ConfigError as exc:
        print(f"myagent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if provider is not None:
            provider.shutdown()  # flush the last spans


async def _serve(args: argparse.Namespace) -> int:
    """Check the agent file, say what runs where, then serve until stopped.

    Raises:
        ConfigError: the file or the options are unusable (reported as one line, exit code 2).
    """
    from myagent.cli.loader import load_agent_factory
    from myagent.cli.startup import build_check_agent, console_url
    from myagent.llm.describe import describe_model, find_model
    from myagent.llm.offline import OfflineModel

    factory = load_agent_factory(args.file)
    agent = await build_check_agent(factory, args.file)
    model = find_model(agent)
    level = logging.WARNING if isinstance(model, OfflineModel) else logging.INFO
    logger.log(level, "agent %r from %s; %s", getattr(agent, "name", "?"), args.file, describe_model(model))
    server = _build_server(factory, args)

    async def announce_console() -> None:
        await server.wait_started()
        logger.info("web console: %s", console_url(args.host, server.port))

    announcing = asyncio.create_task(announce_console())
    try:
        await server.start_server(log_level=args.log_level)
    finally:
        announcing.cancel()
    return 0


def _build_server(factory: Callable[[], Any], args: argparse.Namespace) -> AgentWebSocketServer:
    """The server with the command line's options (those left unset keep the server's defaults)."""
    from myagent.ws.server import AgentWebSocketServer

    options = {
        "grace_period": args.grace_period,
        "heartbeat_interval": args.heartbeat_interval,
        "lease_ttl": args.lease_ttl,
        "confirm_timeout": args.confirm_timeout,
        "language": args.language,
        "send_llm_messages": args.send_llm_messages or _env_flag("SEND_LLM_MESSAGE"),
        "state_previous_keys": tuple(args.state_previous_key or _env_list("MYAGENT_STATE_PREVIOUS_KEYS")) or None,
        "state_encrypt": args.state_encrypt,
        **_security_options(args),
    }
    return AgentWebSocketServer(
        factory,
        host=args.host,
        port=args.port,
        state_secret_key=args.state_secret_key,
        authenticate=_authenticator(args),
        redis_url=args.redis_url or env_value("MYAGENT_REDIS_URL"),
        **{k: v for k, v in options.items() if v is not None},
    )


def _start_tracing(args: argparse.Namespace) -> Any:
    """OTLP tracing when asked for (``--otel`` or ``MYAGENT_OTEL``), unless ``OTEL_SDK_DISABLED`` says no."""
    wanted = args.otel if getattr(args, "otel", None) is not None else _env_flag("MYAGENT_OTEL")
    if not wanted or _env_flag("OTEL_SDK_DISABLED"):
        return None
    capture = getattr(args, "otel_capture_content", None) or _env_flag(
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
    )
    try:
        from myagent.telemetry.setup import configure_from_env
    except ImportError:
        print("myagent: --otel needs OpenTelemetry: pip install 'myagent[otel]'", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    try:
        provider = configure_from_env(capture_content=bool(capture))
    except ConfigError as exc:
        print(f"myagent: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    logging.getLogger(__name__).info("OpenTelemetry tracing on (content %s)", "recorded" if capture else "not recorded")
    return provider


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in (env_value(name) or "").split(",") if item.strip()]


def _env_flag(name: str) -> bool | None:
    value = env_value(name)
    return None if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m myagent.cli.server", description="Serve an agent over WebSocket.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_server_arguments(commands.add_parser("server", help="serve the agent defined in FILE"))
    return run_server(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
