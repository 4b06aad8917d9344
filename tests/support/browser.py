"""A real headless Chromium driven by Selenium, with axe-core for accessibility checks.

Selenium blocks: tests call it through ``asyncio.to_thread`` so the API serving the pages (on
the test's event loop) keeps answering. Chromium and its driver are Debian's ``chromium`` and
``chromium-driver`` (.ci/run installs them); without them the browser tests fail, saying so.
"""

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import axe_selenium_python
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

ARTIFACTS = Path(".creditgate/artifacts/portal")
AXE_JS = Path(axe_selenium_python.__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
WAIT_SECONDS = 60
# What axe reports that a person would be stopped by.
BLOCKING = {"serious", "critical"}

__all__ = ["ARTIFACTS", "Browser", "browser"]


class Browser:
    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def open(self, url: str) -> None:
        self.driver.get(url)

    def find(self, css: str) -> WebElement:
        """The element, once the page has it (scripts such as Stripe.js add elements after
        the page loaded)."""
        found: WebElement = WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda driver: driver.find_element(By.CSS_SELECTOR, css)
        )
        return found

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def body(self) -> str:
        return self.text("body")

    def type(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def click(self, css: str) -> None:
        self.find(css).click()

    def shows(self, css: str, text: str) -> bool:
        """Wait until ``css``'s text contains ``text``, across a page load (an element the
        new page replaced is looked up again); fails the wait if it never does."""
        WebDriverWait(
            self.driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)
        ).until(expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
        return True

    def exists(self, css: str) -> bool:
        return bool(self.driver.find_elements(By.CSS_SELECTOR, css))

    def attribute(self, css: str, name: str) -> str | None:
        value = self.find(css).get_attribute(name)
        return None if value is None else str(value)

    def wait_for(self, css: str, attribute: str, values: set[str]) -> str:
        """Wait until ``css``'s ``attribute`` is one of ``values``; that value."""
        found: list[str] = []

        def settled(driver: webdriver.Chrome) -> bool:
            value = driver.find_element(By.CSS_SELECTOR, css).get_attribute(attribute)
            if value in values:
                found.append(value)
            return bool(found)

        WebDriverWait(self.driver, WAIT_SECONDS).until(settled)
        return found[0]

    def screenshot(self, name: str) -> Path:
        """The whole page (beyond the window), as ``ARTIFACTS/<name>.png``."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"captureBeyondViewport": True, "clip": clip}
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def on_a_phone(self, name: str) -> bool:
        """A screenshot at a phone's width; whether the page fits it without sideways
        scrolling."""
        self.driver.set_window_size(390, 844)
        try:
            self.screenshot(name)
            return bool(
                self.driver.execute_script(
                    "return document.documentElement.scrollWidth <= window.innerWidth"
                )
            )
        finally:
            self.driver.set_window_size(1000, 900)

    def blocking_violations(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical findings on the current page."""
        self.driver.execute_script(AXE_JS.read_text())
        report = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document).then(done, (e) => done({error: String(e)}));"
        )
        assert "error" not in report, report
        return [
            {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": len(v["nodes"])}
            for v in report["violations"]
            if v["impact"] in BLOCKING
        ]

    def cookies_for(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in self.driver.get_cookies()}


def _require(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.fail(
            f"{program} is not installed: the portal's browser tests need Debian's chromium and "
            f"chromium-driver (apt-get install -y chromium chromium-driver; .ci/run does it)",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    options = webdriver.ChromeOptions()
    options.binary_location = _require("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1000,900")
    driver = webdriver.Chrome(options=options, service=Service(_require("chromedriver")))
    driver.set_script_timeout(WAIT_SECONDS)
    try:
        yield Browser(driver)
    finally:
        driver.quit()
