"""The ``hashrc`` command. Each sub-command lives in its package's ``commands`` module,
which exposes ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int`` and imports
anything heavy only inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command -> module; each module is imported to build the parser, so keep them light.
COMMANDS: dict[str, str] = {
    "demo": "reservoir.commands.demo",
    "dashboard": "dashboard.commands",
    "export": "asic_bridge.capture.commands.export",
    "captures": "asic_bridge.capture.commands.captures",
    "capture": "asic_bridge.capture.commands.capture",
    "emulate": "emulator.commands",
    "pool": "asic_bridge.stratum.commands",
    "tpf": "reservoir.commands.tpf",
    "hashrate": "reservoir.commands.hashrate",
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
        return 130
    except Exception as exc:  # a clear one-line error for the user, not a traceback
        from asic_bridge.errors import BridgeError

        if isinstance(exc, (BridgeError, ValueError, FileNotFoundError)):
            print(f"hashrc {args.command}: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
