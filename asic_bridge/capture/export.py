"""Export a capture's tables to Parquet or CSV for analysis elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

from asic_bridge.capture.metadata import refuse_existing
from asic_bridge.capture.store import EVENT_OF, CaptureReader

FORMATS = ("parquet", "csv")


def export_paths(capture: Path, fmt: str, out: Path) -> list[Path]:
    """The files an export of ``capture`` writes into ``out``."""
    return [out / f"{capture.stem}.{table}.{fmt}" for table in EVENT_OF] + [
        out / f"{capture.stem}.metadata.json"]


def export_capture(capture: str | Path, fmt: str, out_dir: str | Path | None = None, *,
                   overwrite: bool = False) -> list[Path]:
    """Write one file per event table (``<stem>.<table>.<fmt>``) plus the metadata as JSON;
    returns the paths written. Existing files are replaced only with ``overwrite``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {FORMATS}")
    capture = Path(capture)
    out = Path(out_dir) if out_dir is not None else capture.parent
    with CaptureReader(capture):  # a missing or foreign file is refused before anything is written
        pass
    for path in export_paths(capture, fmt, out):
        refuse_existing(path, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with CaptureReader(capture) as reader:
        for table in EVENT_OF:
            frame = reader.dataframe(table)
            path = out / f"{capture.stem}.{table}.{fmt}"
            if fmt == "parquet":
                frame.to_parquet(path, index=False)
            else:
                frame.to_csv(path, index=False)
            written.append(path)
        meta_path = out / f"{capture.stem}.metadata.json"
        meta_path.write_text(json.dumps(reader.metadata(), indent=2))
        written.append(meta_path)
    return written
