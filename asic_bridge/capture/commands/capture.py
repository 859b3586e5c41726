"""``hashrc capture --device URL ... --out FILE``."""

from __future__ import annotations

import argparse

HELP = (
    "Record a device into one capture: shares (from the pool server with --stratum, or "
    "from the chip UART), telemetry at the firmware's pace, and control changes from a "
    "schedule. URL: axeos://HOST[:PORT], cgminer://HOST[:4028], goldshell://HOST, "
    "serial://PATH?chip=bm1366&baud=115200, or emu://MODEL."
)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", required=True, metavar="URL")
    parser.add_argument("--stratum", type=_host_port, metavar="HOST:PORT",
                        help="run the pool server here and record its shares (miner connects to us)")
    parser.add_argument("--difficulty", type=float, default=1e-3, help="pool share difficulty")
    parser.add_argument("--duration", type=float, default=60.0, metavar="S", help="seconds (default 60)")
    parser.add_argument("--schedule", metavar="FILE", help="JSON or CSV of t_s, knob, value, unit")
    parser.add_argument("--override-envelope", action="store_true",
                        help="allow clock/voltage outside the model's safe envelope (at your risk)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing capture")
    parser.add_argument("--mqtt", type=_host_port, metavar="HOST:PORT",
                        help="also publish every event to this MQTT broker (hashrc/<device>/<kind>)")
    parser.add_argument("--out", required=True, metavar="FILE", help="capture file (.sqlite)")


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from asic_bridge.capture.recorder import record
    from asic_bridge.capture.schedule import load_schedule

    schedule = load_schedule(args.schedule) if args.schedule else []
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    summary = record(
        args.device, args.out, duration_s=args.duration, schedule=schedule,
        stratum_listen=args.stratum, difficulty=args.difficulty,
        override_envelope=args.override_envelope, overwrite=args.overwrite, stop=stop,
        mqtt=args.mqtt,
    )
    print(f"hashrc capture: {summary['events']} events from {summary['device']} in {args.out}")
    return 0
