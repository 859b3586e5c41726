"""The served dashboard in a real headless Chromium: `hashrc dashboard` on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reservoir.experiment import ExperimentConfig, run_experiment

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# `make test` installs Debian's chromium; running pytest by hand without it says so
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="chromium not installed (make test installs it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"dashboard not healthy within {timeout_s} s")


def test_dashboard_renders_in_chromium(tmp_path: Path) -> None:
    assert CHROMIUM is not None, "chromium is required (make test installs it)"
    run_experiment(ExperimentConfig(steps=500, washout=100, seed=4), tmp_path / "runs" / "demo")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "asic_bridge.cli", "dashboard", "--captures",
         str(tmp_path / "runs"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", server)
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1800"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            driver.get(f"http://127.0.0.1:{port}/")
            WebDriverWait(driver, 60).until(
                ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "NARMA-10 on lv06")
            )
            WebDriverWait(driver, 60).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, "[data-testid='stDataFrame']"))
            )
            body = driver.find_element(By.TAG_NAME, "body").text
            assert "RMSE / std(test target)" in body
            assert "does not beat its controls" in body or "beats both controls" in body
            time.sleep(2)  # let the charts draw before the picture
            shot = tmp_path / "dashboard.png"
            driver.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
            keep = os.environ.get("HASHRC_KEEP_SCREENSHOT")
            if keep:
                shutil.copy(shot, keep)
        finally:
            driver.quit()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
