"""``hashrc capture --device URL ... --out FILE``."""

from __future__ import annotations

import argparse

from asic_bridge.urls import host_port

HELP = (
    "Record a device into one capture: shares (from the pool server with --stratum, or "
    "from the chip UART), telemetry at the firmware's pace, and control changes from a "
    "schedule. URL: axeos://HOST[:PORT], cgminer://HOST[:4028], goldshell://HOST, "
    "serial://PATH?chip=bm1366&baud=115200, or emu://MODEL."
)


def _mqtt(text: str) -> tuple[str, int]:
    """argparse ``type=`` for ``mqtt://HOST[:PORT]`` or ``HOST[:PORT]`` (port 1883)."""
    from asic_bridge.publish.messages import parse_mqtt_url

    try:
        return parse_mqtt_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", required=True, metavar="URL")
    parser.add_argument("--stratum", type=host_port, metavar="HOST:PORT",
                        help="run the pool server here and record its shares (miner connects to us)")
    parser.add_argument("--difficulty", type=float, default=1e-3, help="pool share difficulty")
    parser.add_argument("--duration", type=float, default=60.0, metavar="S", help="seconds (default 60)")
    parser.add_argument("--schedule", metavar="FILE", help="JSON or CSV of t_s, knob, value, unit")
    parser.add_argument("--override-envelope", action="store_true",
                        help="allow clock/voltage outside the model's safe envelope (at your risk)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing capture")
    parser.add_argument("--mqtt", type=_mqtt, metavar="mqtt://HOST[:PORT]",
                        help="also publish every event to this MQTT broker (HOST:PORT works too)")
    parser.add_argument("--site", default="local", metavar="NAME",
                        help="site name in the MQTT topics (default: local)")
    parser.add_argument("--out", required=True, metavar="FILE", help="capture file (.sqlite)")


def run(args: argparse.Namespace) -> int:
    import signal
    import sys
    import threading

    from tqdm import tqdm

    from asic_bridge.capture.metadata import refuse_existing
    from asic_bridge.capture.recorder import record
    from asic_bridge.capture.schedule import load_schedule

    if not args.duration > 0:
        raise ValueError(f"--duration {args.duration:g}: give a positive number of seconds")
    schedule = load_schedule(args.schedule) if args.schedule else []
    refuse_existing(args.out, args.overwrite)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"hashrc capture: recording {args.device} for {args.duration:g} s into {args.out} "
          "(Ctrl-C stops and keeps what was recorded)", flush=True)
    with tqdm(total=round(args.duration, 1), unit="s", file=sys.stderr, delay=2.0, mininterval=1.0,
              dynamic_ncols=True, desc="capture", bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s") as bar:

        def progress(elapsed_s: float) -> None:
            bar.update(round(min(elapsed_s, args.duration) - bar.n, 1))

        summary = record(
            args.device, args.out, duration_s=args.duration, schedule=schedule,
            stratum_listen=args.stratum, difficulty=args.difficulty,
            override_envelope=args.override_envelope, overwrite=args.overwrite, stop=stop,
            mqtt=args.mqtt, site=args.site, progress=progress,
        )
    if summary["interrupted"]:
        print(f"hashrc capture: interrupted after {summary['seconds']:.1f} s of {args.duration:g} s; "
              f"kept {summary['events']} events from {summary['device']} in {args.out}", flush=True)
        return 130
    print(f"hashrc capture: {summary['events']} events from {summary['device']} in {args.out}")
    return 0
