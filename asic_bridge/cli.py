"""The ``hashrc`` command. Each sub-command lives in its package's ``commands`` module,
which exposes ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int`` and imports
anything heavy only inside ``run``.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

# sub-command -> module; each module is imported to build the parser, so keep them light.
COMMANDS: dict[str, str] = {
    "demo": "reservoir.commands.demo",
    "narma": "reservoir.commands.narma",
    "dashboard": "dashboard.commands",
    "export": "asic_bridge.capture.commands.export",
    "captures": "asic_bridge.capture.commands.captures",
    "capture": "asic_bridge.capture.commands.capture",
    "emulate": "emulator.commands",
    "pool": "asic_bridge.stratum.commands",
    "tpf": "reservoir.commands.tpf",
    "hashrate": "reservoir.commands.hashrate",
    "sweep": "reservoir.commands.sweep",
    "mc": "reservoir.commands.mc",
    "puf": "reservoir.commands.puf",
    "claims": "reservoir.commands.claims",
    "record": "asic_bridge.publish.commands",
}


def build_parser() -> argparse.ArgumentParser:
    from asic_bridge import __version__

    parser = argparse.ArgumentParser(
        prog="hashrc",
        description="Reservoir-computing and side-channel experiments on mining ASICs, "
        "with a physics emulator of each device.",
    )
    parser.add_argument("--version", action="version", version=f"hashrc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"hashrc {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a clear one-line error for the user, not a traceback
        message = user_error(exc, args)
        if message is None:
            raise
        print(f"hashrc {args.command}: error: {message}", file=sys.stderr)
        return 2


_CONNECT_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EHOSTUNREACH,
                   errno.ENETUNREACH, errno.EHOSTDOWN}


def _addresses(args: argparse.Namespace) -> str:
    """The HOST:PORT options the user gave (named in a bind error)."""
    shown = [f"--{k.replace('_', '-')} {v[0]}:{v[1]}" for k, v in sorted(vars(args).items())
             if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], int)]
    return f" ({', '.join(shown)})" if shown else ""


def user_error(exc: BaseException, args: argparse.Namespace) -> str | None:
    """One line saying what was wrong and what to do, for every error a user can cause
    (BridgeError, ValueError, OSError and the sqlite errors of an unwritable capture);
    None for a bug (which keeps its traceback)."""
    import socket
    import sqlite3

    from asic_bridge.errors import BridgeError

    def first_line(e: BaseException) -> str:
        text = str(e).strip().splitlines()
        return text[0] if text else type(e).__name__

    if isinstance(exc, BridgeError | ValueError):
        return first_line(exc)
    if isinstance(exc, OverflowError) and "port" in str(exc):
        return f"{first_line(exc)}: give a port in 1-65535"
    if isinstance(exc, sqlite3.Error):
        target = getattr(args, "out", None) or getattr(args, "capture", None)
        named = f" {target}" if target else ""
        return f"cannot write the capture{named}: {first_line(exc)}: choose a writable path"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name: {exc.strerror}: check the address"
    if not isinstance(exc, OSError):
        return None
    where = f"{exc.filename}: " if exc.filename else ""
    code = exc.errno
    if code == errno.EADDRINUSE:
        return (f"address already in use{_addresses(args)}: choose another port or stop the "
                "program listening there")
    if code == errno.EADDRNOTAVAIL:
        return f"cannot listen on that address{_addresses(args)}: it is not one of this host's"
    if code in (errno.EACCES, errno.EPERM):
        return (f"{where}permission denied: choose a path you can write"
                + (" (or a port above 1023)" if not exc.filename else ""))
    if code == errno.ENOTDIR:
        return f"{where}a parent of this path is a file, not a directory: choose another path"
    if code == errno.EEXIST:
        return f"{where}is a file, not a directory: a parent of the path must be a directory"
    if code == errno.EISDIR:
        return f"{where}is a directory: give a file path"
    if code == errno.ENOENT:
        return f"{where}no such file or directory: check the path (is its folder there and writable?)"
    if code == errno.ENOSPC:
        return f"{where}no space left on the device: free some space or choose another disk"
    if code == errno.EROFS:
        return f"{where}read-only file system: choose a writable path"
    if isinstance(exc, BrokenPipeError):
        return "the output or a connection closed while writing (broken pipe)"
    if code in _CONNECT_ERRNOS or isinstance(exc, ConnectionError | TimeoutError):
        return (f"cannot reach the device: {exc.strerror or first_line(exc)}: check the URL and "
                "that the device is on and reachable")
    return f"{where}{exc.strerror or first_line(exc)}"


if __name__ == "__main__":
    sys.exit(main())
