"""``hashrc dashboard``: serve the Streamlit app on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Serve the dashboard (Streamlit) on http://127.0.0.1:PORT over the reports under DIR."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--captures", default="runs", help="directory of runs (default runs)")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1, loopback only)")


def streamlit_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The command line that serves the app."""
    import sys

    app = Path(__file__).with_name("app.py")
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", address, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]


def serve(captures: Path, port: int = 8501, address: str = "127.0.0.1") -> int:
    """Run the dashboard in the foreground until interrupted."""
    import os
    import subprocess

    env = {**os.environ, "HASHRC_CAPTURES": str(Path(captures).resolve())}
    print(f"dashboard on http://{address}:{port} (Ctrl-C to stop)", flush=True)
    try:
        return subprocess.call(streamlit_command(port, address), env=env)
    except KeyboardInterrupt:
        return 0


def run(args: argparse.Namespace) -> int:
    return serve(Path(args.captures), args.port, args.address)
