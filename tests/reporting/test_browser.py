"""The report and the dashboard in a real browser: headless Chromium (Debian's package,
installed by ``.ci/run``) driven through chromedriver.

Checks: no script error, every section present, every figure drawn with data, every
table filled; the dashboard page reloads by itself when trials land. Screenshots go
to the test's temporary folder (printed), as CI artifacts.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.reporting._study import objective

from hypertrail.cli.main import cli
from hypertrail.reporting.dashboard import serve
from hypertrail.reporting.data import SECTIONS
from hypertrail.storage.base import open_storage
from hypertrail.study import Study

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TABLE_SECTIONS = {"summary", "provenance", "audit"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None  # type: ignore[assignment]
    if webdriver is None or not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("HYPERTRAIL_REQUIRE_BROWSER"):
            pytest.fail(
                "HYPERTRAIL_REQUIRE_BROWSER is set but chromium/chromedriver/selenium is missing"
            )
        pytest.skip("no chromium, chromedriver or selenium here")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, script: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {script}")


_INSPECT = """
return Array.from(document.querySelectorAll('section')).map(s => ({
  id: s.dataset.section,
  empty: s.dataset.empty,
  rows: s.querySelectorAll('tbody tr').length,
  figures: Array.from(s.querySelectorAll('[data-figure]')).map(f => ({
    drawn: f.classList.contains('js-plotly-plot') && f.querySelector('.main-svg') !== null,
    points: (f.data || []).reduce((n, t) =>
        n + ((t.x || t.z || t.y || (t.dimensions && t.dimensions[0].values) || []).length), 0),
  })),
}));
"""


def _check_page(
    driver: Any, shots: Path, name: str, empty: frozenset[str] = frozenset({"rungs"})
) -> list[dict[str, Any]]:
    """Check a report page; ``empty``: sections with nothing to show for this study
    (the demo study has no multi-fidelity scheduler, so no rungs)."""
    _wait(driver, "return document.body.dataset.ready === '1'")
    driver.save_screenshot(str(shots / f"{name}-top.png"))
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 100, 16000))
    driver.save_screenshot(str(shots / f"{name}-full.png"))
    driver.set_window_size(1280, 1000)
    print(f"screenshots: {shots}/{name}-*.png")
    assert driver.execute_script("return window.hypertrailErrors") == []
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    sections: list[dict[str, Any]] = driver.execute_script(_INSPECT)
    assert [s["id"] for s in sections] == [id for id, _ in SECTIONS]
    for s in sections:
        assert s["empty"] == str(s["id"] in empty).lower(), s["id"]
        if s["id"] in empty:
            continue
        if s["id"] in TABLE_SECTIONS:
            assert s["rows"] > 0, s["id"]
        else:
            assert s["figures"], s["id"]
            for figure in s["figures"]:
                assert figure["drawn"] and figure["points"] > 0, (s["id"], figure)
    return sections


def test_report_file_in_chromium(
    browser: Any, report_study: tuple[str, str], tmp_path: Path
) -> None:
    url, name = report_study
    output = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", name, "--storage", url, "-o", str(output)])
    assert result.exit_code == 0, result.output
    browser.get(output.as_uri())
    sections = _check_page(browser, tmp_path, "report")
    audit = browser.find_element("id", "s-audit").text
    assert "proposals re-derived identically" in audit
    assert len(sections) == len(SECTIONS)


def test_report_of_a_multi_fidelity_study_in_chromium(browser: Any, tmp_path: Path) -> None:
    from tests import _objectives

    from hypertrail import Categorical, Float, Space

    url = f"sqlite:///{tmp_path / 'asha.db'}"
    study = Study.create(
        "asha",
        Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "k": Categorical(["a", "b"])}),
        storage=url,
        seed=2,
        metrics="loss",
        optimizer={"name": "asha", "fidelity": {"name": "epochs", "min": 1, "max": 9}},
    )
    try:
        study.optimize(_objectives.learning_curve, n_trials=40)
    finally:
        study.close()
    output = tmp_path / "asha.html"
    result = CliRunner().invoke(cli, ["report", "asha", "--storage", url, "-o", str(output)])
    assert result.exit_code == 0, result.output
    browser.get(output.as_uri())
    # one metric: no Pareto front; the rungs and the lineage of promotions are drawn
    sections = _check_page(browser, tmp_path, "asha", empty=frozenset({"pareto"}))
    rungs = next(s for s in sections if s["id"] == "rungs")
    assert rungs["rows"] >= 3 + 1  # a row per rung, a pair of rungs at least
    text = browser.find_element("id", "s-rungs").text
    assert "Spearman" in text and "rung 0 → 1" in text


def test_dashboard_in_chromium_refreshes_as_trials_land(
    browser: Any, report_study: tuple[str, str], tmp_path: Path
) -> None:
    shared, name = report_study
    copy = tmp_path / "dashboard.db"  # trials are added: leave the shared study as it is
    with sqlite3.connect(shared.removeprefix("sqlite:///")) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    url = f"sqlite:///{copy}"
    log = open_storage(url)
    server = serve(log, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        _wait(browser, "return document.querySelector('#studies a') !== null")
        browser.find_element("css selector", "#studies a").click()
        _check_page(browser, tmp_path, "dashboard")
        trials = browser.execute_script(
            "return document.querySelector('#s-summary td:nth-child(2)').textContent"
        )
        study = Study.load(name, url)
        try:
            study.optimize(objective, n_trials=2)
            total = len(study.trials)
        finally:
            study.close()
        # The page polls the study's cursor and reloads on its own.
        _wait(
            browser,
            f"return document.body.dataset.ready === '1' && "
            f"document.querySelector('#s-summary td:nth-child(2)').textContent.startsWith('{total} ')",
        )
        assert not trials.startswith(f"{total} ")
        browser.save_screenshot(str(tmp_path / "dashboard-after.png"))
    finally:
        server.shutdown()
        server.server_close()
        log.close()
