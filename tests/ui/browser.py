"""Headless Debian Chromium driven by selenium, for the dashboard's browser tests.

Chromium and its driver come from Debian's `chromium` and `chromium-driver` packages (one source,
so their versions always match; `.ci/run` installs them). Nothing is downloaded at test time:
selenium is given the driver's path, so Selenium Manager never runs.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = os.environ.get("TRAINYARD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TRAINYARD_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
# What this machine needs (closed network, root): no sandbox, no GPU, no background requests.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
T = TypeVar("T")


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            return f"{path} is missing: apt-get install chromium chromium-driver (.ci/run does)"
    return None


class Browser:
    """One Chromium with a fresh profile; `base` is the server's URL."""

    def __init__(self, base: str, profile: Path, width: int = 1280, height: int = 900) -> None:
        self.base = base
        self.downloads = profile / "downloads"
        self.downloads.mkdir(parents=True, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            *FLAGS,
            f"--user-data-dir={profile / 'chrome'}",
            f"--window-size={width},{height}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver: WebDriver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        if width < 500:  # below Chromium's smallest window: emulate the phone's viewport
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True}
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        self.driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(self.downloads)},
        )

    def close(self) -> None:
        self.driver.quit()

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def login(self, token: str) -> None:
        self.driver.delete_all_cookies()
        self.open("/ui/login")
        self.find("#token").send_keys(token)
        self.find("form[action='/ui/login'] button[type=submit]").click()
        self.wait(lambda: self.driver.current_url.endswith("/ui/"), what="the jobs page")

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def fetch(self, path: str, method: str = "GET", csrf: bool = False) -> dict[str, Any]:
        """A request from the page itself (its cookie; the CSRF header only when asked)."""
        script = """
            const [path, method, csrf, done] = arguments;
            const headers = {Accept: "application/json"};
            if (csrf) headers["X-CSRF-Token"] = document.querySelector('meta[name=csrf-token]').content;
            fetch(path, {method, headers, credentials: "same-origin"})
              .then(async (r) => done({status: r.status, body: await r.text()}))
              .catch((e) => done({status: -1, body: String(e)}));
        """
        return self.driver.execute_async_script(script, path, method, csrf)  # type: ignore[no-any-return]

    def wait(self, condition: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
        """Poll `condition` until it returns something truthy (and return that)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = condition()
            except Exception as exc:  # the page is between states (stale element, navigation)
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or condition}: last {last!r}")

    def console_errors(self) -> list[str]:
        entries = self.driver.get_log("browser")
        return [
            e["message"]
            for e in entries
            if e["level"] == "SEVERE" and "favicon" not in e["message"]
        ]

    def screenshot(self, name: str) -> None:
        """Into $TRAINYARD_SCREENSHOTS (docs/screenshots with `make screenshots`), when set."""
        folder = os.environ.get("TRAINYARD_SCREENSHOTS")
        if not folder:
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        # The whole page, not just the window: grow the window to the page for one capture.
        size = self.driver.get_window_size()
        height = self.js("return document.documentElement.scrollHeight")
        self.driver.set_window_size(size["width"], min(max(height, size["height"]), 2400))
        time.sleep(0.3)  # let the charts follow the new size (a resize handler, then a frame)
        self.driver.save_screenshot(str(Path(folder) / f"{name}.png"))
        self.driver.set_window_size(size["width"], size["height"])
