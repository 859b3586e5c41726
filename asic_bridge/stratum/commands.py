"""``hashrc pool``: run the Stratum pool server (or proxy) and record into a capture."""

from __future__ import annotations

import argparse

HELP = "Run a Stratum V1 pool (or a proxy to an upstream pool) that records every share."


def _host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` to connect to (port 1-65535)."""
    from asic_bridge.urls import host_port  # the one HOST:PORT type

    return host_port(text)


def _listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` to listen on; port 0 means "any free port" (printed once bound)."""
    from asic_bridge.errors import UrlError
    from asic_bridge.urls import parse_host_port

    try:
        return parse_host_port(text, allow_zero=True)
    except UrlError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _upstream(text: str) -> tuple[str, int]:
    for scheme in ("stratum+tcp://", "tcp://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    return _host_port(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        type=_listen,
        default=("127.0.0.1", 3333),
        metavar="HOST:PORT",
        help="where miners connect (default 127.0.0.1:3333; port 0: any free port)",
    )
    parser.add_argument("--difficulty", type=float, default=1.0, help="share difficulty")
    parser.add_argument("--capture", default=None, metavar="FILE", help="capture file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing capture")
    parser.add_argument(
        "--policy", choices=["normal", "one-in-flight", "latency-hiding"], default="normal"
    )
    parser.add_argument(
        "--prefetch-lead",
        type=float,
        default=2.0,
        metavar="S",
        help="latency-hiding: announce the next job this many seconds before the rotation",
    )
    parser.add_argument(
        "--job-interval",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds between jobs in the normal policy (0: on demand only)",
    )
    parser.add_argument("--template", default=None, metavar="JSON", help="replay this job template")
    parser.add_argument("--error-style", choices=["public-pool", "ckpool"], default="public-pool")
    parser.add_argument("--extranonce2-size", type=int, default=4, metavar="BYTES")
    parser.add_argument(
        "--upstream", type=_upstream, default=None, metavar="stratum+tcp://HOST:PORT"
    )
    parser.add_argument("--user", default=None, help="user for the upstream pool")
    parser.add_argument("--password", default="x", help="password for the upstream pool")
    parser.add_argument("--duration", type=float, default=None, metavar="S", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    import signal
    import sys
    import threading

    from asic_bridge.capture import CaptureWriter
    from asic_bridge.capture.metadata import discard_capture, pool_metadata
    from asic_bridge.stratum.jobs import SyntheticJobSource, TemplateJobSource
    from asic_bridge.stratum.pool import JobPolicy, Pool, PoolConfig
    from asic_bridge.stratum.proxy import ProxyThread
    from asic_bridge.stratum.rejects import ErrorStyle
    from asic_bridge.stratum.server import ServerThread, ServiceThread

    if args.upstream is not None and not args.user:
        raise ValueError("--upstream needs --user")
    lead, interval = args.prefetch_lead, args.job_interval
    if args.policy == "latency-hiding" and interval and not 0 <= lead < interval:
        raise ValueError(
            f"--prefetch-lead {args.prefetch_lead:g} s must be >= 0 and shorter than "
            f"--job-interval {args.job_interval:g} s"
        )
    host, port = args.listen
    config = PoolConfig(
        difficulty=args.difficulty,
        min_difficulty=min(1e-6, args.difficulty),
        extranonce2_size=args.extranonce2_size,
        policy=JobPolicy(args.policy),
        job_interval_s=args.job_interval or None,
        prefetch_lead_s=args.prefetch_lead,
        error_style=ErrorStyle(args.error_style),
    )
    def log(text: str) -> None:
        print(f"hashrc pool: {text}", file=sys.stderr, flush=True)

    capture = None
    if args.capture:
        capture = CaptureWriter(
            args.capture,
            overwrite=args.overwrite,
            on_error=lambda exc: log(f"{exc}; submits are answered with an error from now on"),
            metadata=pool_metadata(  # the one capture schema (asic_bridge.capture.metadata)
                task="stratum-pool" if args.upstream is None else "stratum-proxy",
                difficulty=args.difficulty,
                policy=args.policy,
                upstream=None if args.upstream is None else f"{args.upstream[0]}:{args.upstream[1]}",
                listen=f"{host}:{port}",
            ).as_dict(),
        )
    sink = capture.write if capture is not None else None
    congested = capture.is_congested if capture is not None else None
    service: ServiceThread
    if args.upstream is not None:
        service = ProxyThread(
            upstream=args.upstream,
            user=args.user,
            password=args.password,
            config=config,
            sink=sink,
            host=host,
            port=port,
            congested=congested,
            log=log,
        )
    else:
        source = (
            TemplateJobSource.from_file(args.template)
            if args.template
            else SyntheticJobSource(
                extranonce_size=config.extranonce1_size + config.extranonce2_size
            )
        )
        pool = Pool(config, job_source=source, sink=sink, congested=congested, log=log)
        service = ServerThread(pool, host=host, port=port, log=log)
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    stoppers = (signal.SIGTERM, signal.SIGINT)  # also when started with SIGINT ignored
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in stoppers} if in_main else {}
    started = False
    try:
        with service:
            started = True
            address = service.address
            print(
                f"hashrc pool: listening on {address[0]}:{address[1]} difficulty {args.difficulty}",
                flush=True,
            )
            stop.wait(args.duration)  # SIGINT and SIGTERM set it
    finally:
        if in_main:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if capture is not None:
            capture.close()
            if not started:  # a failed start leaves no capture behind
                discard_capture(args.capture)
            else:
                print(f"hashrc pool: {capture.committed} events in {args.capture}", flush=True)
    return 0
