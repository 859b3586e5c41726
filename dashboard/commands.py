"""``hashrc dashboard``: serve the Streamlit app on 127.0.0.1, and stop it with us."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("Serve the dashboard (Streamlit) on http://127.0.0.1:PORT over the runs and captures under "
        "DIR, with live devices from MQTT (--mqtt) or device URLs (--device).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--captures", default="runs", help="directory of runs and captures (default runs)")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1, loopback only)")
    parser.add_argument("--mqtt", metavar="URL", help="broker for live devices, mqtt://HOST[:PORT]")
    parser.add_argument("--device", action="append", default=[], metavar="URL",
                        help="a device to show and control live (repeatable), e.g. emu://lv06")


def streamlit_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The command line that serves the app."""
    import sys

    app = Path(__file__).with_name("app.py")
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", address, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
    ]


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the parent dies, even by SIGKILL (Linux)."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve(captures: Path, port: int = 8501, address: str = "127.0.0.1", *, mqtt: str = "",
          devices: tuple[str, ...] = ()) -> int:
    """Run the dashboard until Ctrl-C or SIGTERM; the Streamlit server stops with it."""
    import os
    import signal
    import subprocess

    if not 1 <= port <= 65535:
        raise ValueError(f"--port must be 1-65535, got {port}")
    if mqtt:
        from asic_bridge.publish.messages import parse_mqtt_url

        parse_mqtt_url(mqtt)  # a bad URL is a one-line error now, not a page error later
    env = {**os.environ, "HASHRC_CAPTURES": str(Path(captures).resolve()), "HASHRC_MQTT": mqtt,
           "HASHRC_DEVICES": "\n".join(devices)}
    child = subprocess.Popen(streamlit_command(port, address), env=env, preexec_fn=_die_with_parent)
    print(f"dashboard on http://{address}:{port} (Ctrl-C to stop)", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return child.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def run(args: argparse.Namespace) -> int:
    return serve(Path(args.captures), args.port, args.address, mqtt=args.mqtt or "",
                 devices=tuple(args.device))
