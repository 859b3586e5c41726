"""``hashrc record --mqtt URL --out FILE``: one recorder for many capture agents."""

from __future__ import annotations

import argparse

HELP = (
    "Subscribe to the events that capture agents publish over MQTT "
    "(hashrc capture --mqtt URL) and record them into one capture file, de-duplicated "
    "by event identity; runs until --duration passes or Ctrl-C."
)


def _mqtt_url(text: str) -> tuple[str, int]:
    from asic_bridge.publish.messages import parse_mqtt_url

    try:
        return parse_mqtt_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mqtt", required=True, type=_mqtt_url, metavar="URL",
                        help="broker, mqtt://HOST[:PORT] (port 1883 by default)")
    parser.add_argument("--out", required=True, metavar="FILE", help="capture file (.sqlite)")
    parser.add_argument("--site", help="record only this site (default: every site)")
    parser.add_argument("--client-id", default="hashrc-recorder",
                        help="MQTT client id; the broker keeps this recorder's session under it")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing capture")


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from asic_bridge.publish.recorder import MqttRecorder

    if args.duration is not None and args.duration <= 0:
        raise ValueError(f"--duration must be positive, got {args.duration}")
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    host, port = args.mqtt
    recorder = MqttRecorder(host, port, args.out, site=args.site, client_id=args.client_id,
                            overwrite=args.overwrite)
    print(f"hashrc record: mqtt://{host}:{port} -> {args.out} (Ctrl-C to stop)", flush=True)
    try:
        stop.wait(args.duration)
    finally:
        recorder.close()
    s = recorder.summary()
    print(f"hashrc record: {s['committed']} events committed to {args.out} "
          f"({s['duplicates']} duplicates dropped, {s['rejected']} messages not hashrc events)")
    return 0
