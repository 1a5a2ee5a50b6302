"""The page in a real browser: `syrisign serve` on 127.0.0.1, headless Chromium (Debian's) driven by Playwright.

Needs the `chromium` package (`apt-get install -y chromium`; .ci/run installs it) and Playwright's Python
package (the dev extra); Playwright's own browser download is not used. Without Chromium this test fails
and says how to install it; set SYRISIGN_SKIP_BROWSER=1 to skip it on purpose. The screenshot goes to the
test's temporary folder, and also to $SYRISIGN_SCREENSHOT_DIR when that is set.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    if os.environ.get("SYRISIGN_SKIP_BROWSER") == "1":
        pytest.skip("SYRISIGN_SKIP_BROWSER=1")
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no Chromium found: apt-get install -y chromium (or set SYRISIGN_SKIP_BROWSER=1 to skip "
                "the browser test on purpose)", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tmp_path):
    """`syrisign serve` in its own process, on a lexicon of the Jordanian letters built in tmp_path."""
    from syrisign.lexicon import DefaultLexiconConfig, build_default_lexicon

    lexicon = build_default_lexicon(tmp_path / "lexicon", progress=False, config=DefaultLexiconConfig(parts=("jos",)))
    port = free_port()
    env = dict(os.environ, SYRISIGN_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "syrisign", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--lexicon", str(lexicon), "--no-fuzzy", "--size", "320", "--log-level", "warning"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"syrisign serve exited ({proc.returncode}):\n{(tmp_path / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server was not ready in 180 s:\n{(tmp_path / 'server.log').read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
def test_page_signs_a_headline_in_headless_chromium(server, tmp_path):
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright's Python package is missing: pip install -e '.[dev]'", pytrace=False)

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000}, locale="ar")
            page.on("request", lambda r: requests.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            desktop = sign_headline(page, server)
            shot = tmp_path / "syrisign-page.png"
            page.screenshot(path=str(shot), full_page=True)
            # a phone: the portrait video, as wide as the screen, the plan below it
            phone_page = browser.new_page(viewport={"width": 390, "height": 844}, locale="ar", is_mobile=True,
                                          device_scale_factor=2)
            phone_page.on("pageerror", lambda e: errors.append(str(e)))
            phone = sign_headline(phone_page, server)
            phone_shot = tmp_path / "syrisign-page-phone.png"
            phone_page.screenshot(path=str(phone_shot), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert desktop["rows"] == ["وزارة", "الصحة"]
    kinds = desktop["kinds"]
    assert kinds and all(k in ("تهجئة بالأصابع", "تهجئة مع استبدال حرف") for k in kinds)  # letters-only lexicon
    v = desktop["video"]
    assert v["w"] == 320 and v["h"] == 320 and v["d"] > 1
    # the video gets the room it needs: at least 480 px wide on a desktop window, the plan beside it
    assert v["box"]["width"] >= 480, v
    plan = desktop["plan"]
    assert plan["top"] < v["box"]["top"] + v["box"]["height"] and (plan["right"] <= v["box"]["left"] + 1
                                                                  or plan["left"] >= v["box"]["right"] - 1), desktop
    pv = phone["video"]
    assert pv["w"] == 320 and pv["h"] == 568, pv  # portrait 9:16 on a phone
    assert pv["box"]["width"] >= 0.9 * 390, pv  # full width
    assert phone["plan"]["top"] >= pv["box"]["top"] + pv["box"]["height"] - 1  # the plan below the video
    assert shot.stat().st_size > 20_000 and phone_shot.stat().st_size > 20_000
    outside = [u for u in requests if not (u.startswith(server) or u.startswith(("blob:", "data:")))]
    assert not outside, f"the page asked for resources elsewhere: {outside}"
    if os.environ.get("SYRISIGN_SCREENSHOT_DIR"):
        dst = Path(os.environ["SYRISIGN_SCREENSHOT_DIR"])
        dst.mkdir(parents=True, exist_ok=True)
        for f in (shot, phone_shot):
            shutil.copy(f, dst / f.name)


def sign_headline(page, server: str) -> dict:
    """Type a headline on the page, sign it, wait until the video plays; where the video and the plan are."""
    page.goto(server + "/")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    page.wait_for_selector("#examples button")  # /v1/info answered
    page.fill("#text", "وزارة الصحة")
    page.click("#submit")
    page.wait_for_function(
        "() => { const v = document.querySelector('#results video');"
        " return v && v.readyState >= 2 && !v.paused && v.currentTime > 0.3; }", timeout=120_000)
    page.wait_for_selector("#results tr.current", timeout=10_000)  # the word being signed is marked
    return {
        "rows": page.eval_on_selector_all("#results tbody tr", "rows => rows.map(r => r.cells[0].textContent)"),
        "kinds": page.eval_on_selector_all("#results tbody .kind", "k => k.map(e => e.textContent)"),
        "video": page.evaluate("(() => { const v = document.querySelector('#results video');"
                               " const r = v.getBoundingClientRect();"
                               " return {w: v.videoWidth, h: v.videoHeight, d: v.duration,"
                               " box: {left: r.left, right: r.right, top: r.top, width: r.width, height: r.height}}; })()"),
        "plan": page.evaluate("(() => { const r = document.querySelector('#results .plan').getBoundingClientRect();"
                              " return {left: r.left, right: r.right, top: r.top}; })()"),
    }
