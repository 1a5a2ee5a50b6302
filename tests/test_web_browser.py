"""The page in a real browser: `syrisign serve` on 127.0.0.1, headless Chromium (Debian's) driven by Playwright.

Needs the `chromium` package (scripts/test.sh installs it with scripts/install-browser.sh) and Playwright's Python
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


SERVERS: dict[str, subprocess.Popen] = {}  # url -> the server's process (tests that kill it)


def start_server(tmp_path, *extra: str):
    """`syrisign serve` in its own process, on a lexicon of the Jordanian letters built in tmp_path; yields
    its URL and stops it afterwards."""
    from syrisign.lexicon import DefaultLexiconConfig, build_default_lexicon

    lexicon = build_default_lexicon(tmp_path / "lexicon", progress=False, config=DefaultLexiconConfig(parts=("jos",)))
    port = free_port()
    env = dict(os.environ, SYRISIGN_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    env.pop("SYRISIGN_TOKENS", None)
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "syrisign", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--lexicon", str(lexicon), "--no-fuzzy", "--size", "320", "--log-level", "warning",
                             *extra], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    SERVERS[url] = proc
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


@pytest.fixture()
def server(tmp_path):
    yield from start_server(tmp_path)


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


# -- the contribute page: a sign recorded with the (fake) camera, checked, added, and used at once ---------------
SIGN_CLIP = "karsl/letters_digits_mp4"  # KArSL signer 01, the letter ب (sign 0033), one hand
SIGN_WORD = "باء"  # the letter's name: a word the letters-only lexicon fingerspells


def fake_camera(tmp_path) -> Path:
    """A .y4m of a real KArSL recording for Chromium's fake camera (which loops it)."""
    import imageio_ffmpeg

    from syrisign.settings import get_settings
    found = sorted((get_settings().data / SIGN_CLIP).rglob("*_01_0033_*.mp4"))
    src = found[0] if found else get_settings().data / SIGN_CLIP
    if not src.is_file():
        pytest.fail(f"missing {src}: the shared data (SYRISIGN_DATA) is needed", pytrace=False)
    out = tmp_path / "camera.y4m"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-vf",
                    "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,fps=25",
                    "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


@pytest.mark.slow
def test_contribute_page_records_checks_adds_and_the_sign_is_used(tmp_path):
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    camera = fake_camera(tmp_path)
    (tmp_path / "tokens").write_text("rana:s3cret-token\n")
    community = tmp_path / "community"
    gen = start_server(tmp_path, "--tokens", str(tmp_path / "tokens"), "--community", str(community))
    url = next(gen)
    errors: list[str] = []
    requests: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS + [
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}"])
            try:
                context = browser.new_context(viewport={"width": 1200, "height": 1000}, locale="ar")
                context.grant_permissions(["camera"], origin=url)
                page = context.new_page()
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: requests.append(r.url))
                # from the main page: an unsigned word links to the contribute page with the word filled in
                page.goto(url + "/?text=" + urllib.request.quote(SIGN_WORD))
                page.wait_for_selector("#results tbody a.record", timeout=120_000)
                page.click("#results tbody a.record")
                page.wait_for_url("**/contribute?word=*")
                assert page.evaluate("document.documentElement.dir") == "rtl"
                assert page.input_value("#word") == SIGN_WORD
                page.fill("#english", "letter b")
                page.fill("#token", "s3cret-token")
                page.click("#camera")
                page.wait_for_function("() => { const v = document.querySelector('#live');"
                                       " return v.videoWidth > 0 && !v.paused; }", timeout=20_000)
                page.click("#record")
                page.wait_for_function("() => !document.querySelector('#stop').disabled", timeout=10_000)
                page.wait_for_timeout(3000)  # about one and a half times the looped sign
                page.click("#stop")
                page.wait_for_function("() => !document.querySelector('#retake').disabled", timeout=10_000)
                page.click("#check")
                page.wait_for_function("() => !document.querySelector('#review').hidden", timeout=180_000)
                checks = page.eval_on_selector_all(
                    "#checks li", "li => li.map(e => [e.dataset.check, e.className, e.textContent])")
                page.wait_for_function("() => { const v = document.querySelector('#skeleton');"
                                       " return v.readyState >= 2 && v.videoWidth > 0; }", timeout=60_000)
                shot = tmp_path / "syrisign-contribute.png"
                page.screenshot(path=str(shot), full_page=True)
                assert {c[0] for c in checks} >= {"person", "duration", "hands"}, checks
                assert all(c[1] in ("ok", "warn") for c in checks), checks
                page.click("#confirm")
                page.wait_for_selector("#try:not([hidden])", timeout=30_000)
                # translating the word right after uses the new recording, and the plan says so
                page.click("#try")
                page.wait_for_function(
                    "() => { const v = document.querySelector('#results video');"
                    " return v && v.readyState >= 2 && v.duration > 0; }", timeout=120_000)
                row = page.eval_on_selector_all("#results tbody tr", "rows => rows.map(r => r.textContent)")
            finally:
                browser.close()
    finally:
        gen.close()
    assert not errors, errors
    assert len(row) == 1 and "إشارة من المعجم" in row[0] and "community recording" in row[0], row
    index = (community / "index.csv").read_text(encoding="utf-8")
    assert SIGN_WORD in index
    meta = (community / "meta.csv").read_text(encoding="utf-8")
    assert "rana" in meta and "letter b" in meta
    videos = list((community / "signs").glob("*.webm")) + list((community / "signs").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 10_000  # the recording is kept beside its .pose
    outside = [u for u in requests if not (u.startswith(url) or u.startswith(("blob:", "data:")))]
    assert not outside, outside
    if os.environ.get("SYRISIGN_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["SYRISIGN_SCREENSHOT_DIR"]) / shot.name)
