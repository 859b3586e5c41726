"""``hashrc emulate``: run an emulated device in real time behind its real faces."""

from __future__ import annotations

import argparse

from asic_bridge.urls import host_port, host_port_default, model_choices

HELP = (
    "Run an emulated lv06, s9 or lbbox in real time behind the faces real hardware has: "
    "a Stratum miner (--stratum), the chip UART on a pty (--serial), the AxeOS or "
    "Goldshell HTTP API (--http), the cgminer API (--cgminer). Faces bind to loopback."
)


RECONNECT_MAX_S = 5.0
"""Longest wait between two attempts of the live miner to reach its pool, s (ESP-Miner
retries its pool every few seconds)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=model_choices())
    parser.add_argument("--stratum", type=host_port, metavar="HOST:PORT",
                        help="connect emulated miners to this Stratum pool; like firmware, "
                        "they retry until it answers (start order does not matter); with "
                        "--http/--cgminer the first miner is the device behind those faces")
    parser.add_argument("--count", type=int, default=1, help="number of Stratum miners (default 1)")
    parser.add_argument("--serial", action="store_true",
                        help="serve the chip chain's UART on a pseudo-terminal and print its path")
    parser.add_argument("--http", type=host_port, metavar="HOST:PORT",
                        help="serve the management HTTP API (AxeOS for lv06, Goldshell for lbbox)")
    parser.add_argument("--cgminer", type=host_port_default(4028), metavar="HOST[:PORT]",
                        help="serve the cgminer/bmminer API (default port 4028)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model's noise")
    parser.add_argument("--serial-number", default=None, help="device serial (sets the silicon)")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    parser.add_argument("--hashrate-scale", type=float, default=None, metavar="X",
                        help="live miner's hash-rate scale (default: fit the host)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="hashing processes of the live miner (default: the CPUs)")


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from emulator.live import LiveEmulator

    if not (args.stratum or args.serial or args.http or args.cgminer):
        raise ValueError("choose at least one face: --stratum, --serial, --http or --cgminer")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    closers: list = []
    try:
        live = None
        if args.serial or args.http or args.cgminer:
            live = LiveEmulator(args.model, serial=args.serial_number, seed=args.seed).start()
            closers.append(live)
            for face in _faces(args, live):
                closers.append(face.start())
                print(f"{type(face).__name__}: {_where(face)}", flush=True)
                url = getattr(face, "url", "")
                if args.stratum and "://" in url and args.count == 1:
                    host, port = args.stratum
                    print(f"device URL (this miner and its pool): "
                          f"{url}?stratum={host}:{port}", flush=True)
        if args.stratum:
            from emulator.stratum_miner import run_stratum_miners

            host, port = args.stratum
            # with a face, the first miner IS that device (one model behind both);
            # further miners (--count) get their own models
            lives = None if live is None or args.count != 1 else [live]
            return run_stratum_miners(
                args.model, host, port, count=args.count, seed=args.seed,
                duration_s=args.duration, stop=stop, serial_prefix=args.serial_number,
                workers=args.workers, hashrate_scale=args.hashrate_scale, lives=lives,
                reconnect_max_s=RECONNECT_MAX_S,
            )
        stop.wait(args.duration)
        return 0
    finally:
        for closer in reversed(closers):
            closer.close()


def _faces(args: argparse.Namespace, live) -> list:
    faces: list = []
    if args.serial:
        from emulator.faces.uart import PtyUartFace, UartFaceConfig

        chip = live.device.profile.pll_chip
        if chip != "BM1366":
            raise ValueError(f"the UART face emulates the BM1366 job path; {args.model} has {chip}")
        faces.append(PtyUartFace(live, UartFaceConfig(chip=chip, seed=args.seed)))
    if args.http:
        host, port = args.http
        if args.model == "lv06":
            from emulator.faces.http_api import AxeOSFace

            faces.append(AxeOSFace(live, host=host, port=port))
        elif args.model == "lbbox":
            from emulator.faces.goldshell_api import GoldshellFace

            faces.append(GoldshellFace(live, host=host, port=port))
        else:
            raise ValueError("the S9 has no AxeOS/Goldshell HTTP API; use --cgminer")
    if args.cgminer:
        from emulator.faces.cgminer_api import CgminerFace

        host, port = args.cgminer
        if args.model == "s9":
            faces.append(CgminerFace(live, host=host, port=port))
        else:
            faces.append(CgminerFace(live, host=host, port=port, flavour="bfgminer",
                                     miner_type="Goldshell LB-Box", chain_slots=(1,),
                                     fan_slots=(1, 2)))
    return faces


def _where(face) -> str:
    return getattr(face, "path", None) or getattr(face, "url", "")
