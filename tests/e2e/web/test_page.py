"""The web page at ``/``: upload, progress, SVG shown next to the original, in real Chromium."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from supersvg.client import Client

pytestmark = pytest.mark.timeout(300)


def _image(path: Path) -> Path:
    img = Image.new("RGB", (64, 64), (250, 250, 245))
    draw = ImageDraw.Draw(img)
    draw.ellipse((8, 8, 40, 40), fill=(220, 40, 40))
    draw.rectangle((30, 30, 58, 58), fill=(30, 80, 200))
    img.save(path)
    return path


def _wait_for(driver: Any, script: str, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    logs = driver.get_log("browser") if hasattr(driver, "get_log") else []
    raise AssertionError(f"timed out waiting for {what}; browser log: {logs}")


def test_upload_progress_and_side_by_side_result(browser: Any, stack: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(f"{stack.base_url}/?token={stack.token}")
    # The token came from the query, was remembered, and left the address bar.
    assert driver.find_element(By.ID, "token").get_attribute("value") == stack.token
    assert driver.execute_script("return localStorage.getItem('supersvg.token')") == stack.token
    assert "token=" not in driver.current_url

    driver.find_element(By.ID, "image").send_keys(str(_image(tmp_path / "shapes.png")))
    _wait_for(
        driver,
        "const i = document.getElementById('original'); return i && i.naturalWidth;",
        10,
        "the original preview",
    )
    for field, value in (("max-paths", "16"), ("iterations", "5")):
        box = driver.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)
    driver.find_element(By.ID, "submit").click()

    job_id = _wait_for(driver, "return document.body.dataset.jobId", 30, "the job id")
    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status, value = driver.execute_script(
            "return [document.getElementById('status').textContent,"
            " document.getElementById('progress').value]"
        )
        if not seen or seen[-1] != (status, value):
            seen.append((status, value))
        if driver.execute_script("return document.body.dataset.resultShown") == "true":
            break
        assert status not in ("failed", "cancelled", "expired"), f"job ended {status}: {seen}"
        time.sleep(0.05)
    else:
        raise AssertionError(f"no result within the deadline; statuses seen: {seen}")

    statuses = [s for s, _ in seen]
    assert statuses[0] in ("queued", "running"), seen  # progress was shown before the end
    assert driver.find_element(By.ID, "status").text == "completed"
    assert driver.find_element(By.ID, "progress").get_attribute("value") in ("100", "100.0")
    progress_values = [v for _, v in seen]
    assert progress_values == sorted(progress_values), f"progress went backwards: {seen}"

    # The SVG is inline next to the original, with drawn paths and nothing executable.
    svg = driver.find_element(By.CSS_SELECTOR, "#vector > svg")
    assert driver.execute_script("return arguments[0].getAttribute('viewBox')", svg)
    shapes = driver.execute_script(
        "return document.querySelectorAll('#vector svg path, #vector svg polygon,"
        " #vector svg rect, #vector svg circle, #vector svg ellipse').length"
    )
    assert shapes >= 1
    assert driver.execute_script("return document.querySelectorAll('#vector script').length") == 0
    box_svg = svg.rect
    box_orig = driver.find_element(By.ID, "original").rect
    assert box_svg["width"] > 50 and box_orig["width"] > 50
    assert box_svg["x"] > box_orig["x"]  # side by side, the vector on the right
    assert "num paths" in driver.find_element(By.ID, "metrics").text

    with Client(stack.base_url, stack.token) as api:
        assert api.get(job_id).status == "completed"


def test_bad_token_shows_the_error(browser: Any, stack: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(f"{stack.base_url}/?token=not-a-valid-token")
    driver.find_element(By.ID, "image").send_keys(str(_image(tmp_path / "a.png")))
    driver.find_element(By.ID, "submit").click()
    text = _wait_for(
        driver,
        "const e = document.getElementById('error'); return !e.hidden && e.textContent;",
        20,
        "the error message",
    )
    assert "401" in text
    assert driver.execute_script("return document.body.dataset.jobId") is None


def test_cancel_button_stops_the_job(browser: Any, stack: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(f"{stack.base_url}/?token={stack.token}")
    driver.find_element(By.ID, "image").send_keys(str(_image(tmp_path / "long.png")))
    box = driver.find_element(By.ID, "iterations")
    box.clear()
    box.send_keys("10000")  # long enough to be cancelled while queued or running
    driver.find_element(By.ID, "submit").click()
    job_id = _wait_for(driver, "return document.body.dataset.jobId", 30, "the job id")
    _wait_for(driver, "return !document.getElementById('cancel').disabled", 10, "Cancel enabled")
    driver.find_element(By.ID, "cancel").click()
    _wait_for(
        driver,
        "return document.body.dataset.jobStatus === 'cancelled'",
        60,
        "the cancelled status",
    )
    assert driver.find_element(By.ID, "status").text == "cancelled"
    assert driver.execute_script("return document.body.dataset.resultShown") is None
    assert driver.find_element(By.ID, "submit").is_enabled()  # ready for the next image
    with Client(stack.base_url, stack.token) as api:
        assert api.get(job_id).status == "cancelled"
