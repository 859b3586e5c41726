"""``hashrc export CAPTURE --format parquet|csv``."""

from __future__ import annotations

import argparse

HELP = "Export a capture's event tables to Parquet or CSV (one file per table)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", help="capture file (.sqlite)")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--out", default=None, help="output directory (default: beside the capture)")
    parser.add_argument("--overwrite", action="store_true", help="replace files a previous export wrote")


def run(args: argparse.Namespace) -> int:
    from asic_bridge.capture.export import export_capture

    for path in export_capture(args.capture, args.format, args.out, overwrite=args.overwrite):
        print(path)
    return 0
