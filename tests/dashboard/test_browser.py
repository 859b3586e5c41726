"""The served dashboard in a real headless Chromium (`hashrc dashboard` on loopback), and
the server's lifecycle: SIGTERM or SIGINT to `hashrc dashboard` stops Streamlit too."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = {  # url path -> text the page must show once its script finished
    "": "Reservoir: does the device compute?",
    "captures": "Gaps between accepted shares",
    "devices": "No live source",
    "experiments": "No runs started from this dashboard yet",
    "energy_filter": "Energy filter",
    "hashrate": "No hashrate reports",
    "sweeps": "No sweep reports",
    "fingerprints": "No fingerprint reports",
    "claims": "No claims reports",
}


# true once every chart and table on the page has drawn its canvas (or svg)
DRAWN = """
const boxes = [...document.querySelectorAll('.vega-embed, [data-testid="stDataFrame"]')];
return boxes.every(b => [...b.querySelectorAll('canvas, svg')].some(
  c => c.getBoundingClientRect().width > 50));
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(port: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"dashboard not healthy within {timeout_s} s")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _start(root: Path, port: int, **kwargs) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [sys.executable, "-m", "asic_bridge.cli", "dashboard", "--captures", str(root), "--port", str(port)],
        **kwargs,
    )


@pytest.fixture
def served(captures_root: Path) -> Iterator[int]:
    port = _free_port()
    server = _start(captures_root, port, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(port, server)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def test_every_page_renders_in_chromium(served: int, captures_root: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "chromium is required (make test installs it)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,2000"):
        options.add_argument(flag)
    keep = os.environ.get("HASHRC_SCREENSHOTS")  # a folder to keep the pictures in (docs/screenshots)
    report = json.loads((captures_root / "demo" / "report.json").read_text())
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        for path, expected in PAGES.items():
            driver.get(f"http://127.0.0.1:{served}/{path}")
            # Streamlit marks the app element while its script runs; wait for "notRunning"
            WebDriverWait(driver, 60).until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), expected))
            WebDriverWait(driver, 60).until(ec.presence_of_element_located(
                (By.CSS_SELECTOR, "[data-testid='stApp'][data-test-script-state='notRunning']")))
            WebDriverWait(driver, 30).until(lambda d: d.execute_script(DRAWN))
            body = driver.find_element(By.TAG_NAME, "body").text
            assert "Traceback" not in body and "Error" not in body.split("\n")[0], body[:500]
            if path == "":
                assert "RMSE / std(test target)" in body
                for row in report["results"]["narma10"]["rows"]:  # the figures, as the headline shows them
                    if row["name"] in ("device", "input_quadratic_30", "mean"):
                        low, high = row["nrmse_ci"]
                        assert f"{row['name']} {row['nrmse']:.3f} [{low:.3f}, {high:.3f}]" in body
            shot = tmp_path / f"{path or 'reservoir'}.png"
            driver.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, Path(keep) / shot.name)
    finally:
        driver.quit()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_dashboard_stops_its_streamlit_server(signum: int, tmp_path: Path) -> None:
    port = _free_port()
    server = _start(tmp_path, port, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_healthy(port, server)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
            pass
        server.send_signal(signum)  # to `hashrc dashboard` only, as `kill` or Ctrl-C in a script would
        server.wait(timeout=20)
        deadline = time.monotonic() + 10
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _listening(port), "Streamlit still serving after hashrc dashboard stopped"
    finally:
        if server.poll() is None:
            server.kill()
        _, stderr = server.communicate(timeout=10)
    assert b"deprecat" not in stderr.lower(), stderr.decode()[-2000:]
