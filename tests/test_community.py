"""The community lexicon: adds that are atomic (a SIGKILL mid-add loses nothing), removals that can be undone,
export; the contribution API on real recordings (the Saudi dictionary's clips) and on bad uploads; the CLI."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from syrisign.community import CommunityError, CommunityLexicon, unpack, with_community
from syrisign.lexicon import INDEX_COLUMNS, Lexicon
from syrisign.pose import PoseSequence
from syrisign.settings import get_settings

GOOD = "esharah/words/زواج.mp4"  # one signer, both hands tracked throughout (1.8 s)
ONE_HAND_LOST = "esharah/words/السلام.mp4"  # MediaPipe finds the signing hand in 9 % of its frames
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def clip(rel: str) -> bytes:
    p = get_settings().data / rel
    if not p.is_file():
        pytest.fail(f"missing {p}: set SYRISIGN_DATA to the shared data", pytrace=False)
    return p.read_bytes()


def lavfi_video(tmp_path: Path, seconds: float, name: str) -> bytes:
    """A synthetic test pattern (no person) of ``seconds``, as mp4."""
    import imageio_ffmpeg

    out = tmp_path / name
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=duration={seconds}:size=160x120:rate=25", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def letter_pose(jos_pose_files) -> PoseSequence:
    return PoseSequence.load(jos_pose_files[1])


# -- the folder ---------------------------------------------------------------------------------------------
def test_add_remove_restore_purge_export(tmp_path, letter_pose, jos_pose_files):
    com = CommunityLexicon(tmp_path / "community")
    assert not com.exists() and com.records() == []
    a = com.add("مستشفى", letter_pose, english="Hospital", added_by="rana", video=b"\x1a\x45\xdf\xa3webm",
                video_ext=".webm")
    b = com.add("  زواج ", letter_pose, added_by="omar")
    assert a["words"] == "مستشفى" and a["english"] == "hospital" and a["added_by"] == "rana" and a["added_at"]
    assert b["words"] == "زواج" and a["id"] != b["id"]
    root = com.root
    header = (root / "index.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == INDEX_COLUMNS  # the spoken-to-signed schema
    package_header = (jos_pose_files[0].parent.parent / "index.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == package_header
    assert (root / "signs" / f"{a['id']}.pose").is_file() and (root / "signs" / f"{a['id']}.webm").is_file()
    lex = Lexicon.load(root)
    assert sorted(e.words for e in lex.entries) == ["زواج", "مستشفى"]
    assert len(lex.pose(lex.lookup("مستشفى")[0])) == len(letter_pose)

    com.remove(a["id"], by="admin")
    assert [r["words"] for r in com.records()] == ["زواج"]
    assert [e.words for e in Lexicon.load(root).entries] == ["زواج"]  # the loader leaves a removed sign out
    assert not (root / "signs" / f"{a['id']}.pose").exists() and (root / "trash" / f"{a['id']}.pose").is_file()
    removed = com.get(a["id"])
    assert removed["removed_at"] and removed["removed_by"] == "admin"
    with pytest.raises(CommunityError, match="already removed"):
        com.remove(a["id"])
    com.restore(a["id"])
    assert sorted(r["words"] for r in com.records()) == ["زواج", "مستشفى"]
    assert (root / "signs" / f"{a['id']}.pose").is_file()

    out = com.export(tmp_path / "out" / "community.zip")
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
    assert {"index.csv", "meta.csv", f"signs/{a['id']}.pose", f"signs/{b['id']}.pose"} <= names
    other = Lexicon.load(unpack(out, tmp_path / "elsewhere"))
    assert sorted(e.words for e in other.entries) == ["زواج", "مستشفى"]

    com.remove(b["id"])
    assert com.purge() == 1
    assert [r["words"] for r in com.records(include_removed=True)] == ["مستشفى"]
    with pytest.raises(CommunityError, match="no community sign"):
        com.restore(b["id"])
    with pytest.raises(CommunityError, match="empty"):
        com.add("   ", letter_pose)


def test_community_signs_join_a_lexicon_first(tmp_path, letter_pose, jos_pose_files):
    base = Lexicon(tmp_path / "base", [])
    base.add("قمر", PoseSequence.load(jos_pose_files[5]), signed_language="sdl", priority=1, source="KArSL")
    base = Lexicon.load(base.root)
    com = CommunityLexicon(tmp_path / "community")
    assert with_community(base, com) is base  # nothing added yet: the lexicon itself
    rec = com.add("قمر", letter_pose, added_by="rana")
    view = with_community(base, com)
    assert len(view) == len(base) + 1 and len(base) == 1
    first, second = view.lookup("قمر")
    assert first.source == "community" and first.id == f"community/{rec['id']}"  # priority 0: before KArSL's
    assert second.source == "KArSL"


def test_two_adds_at_once_both_land(tmp_path, letter_pose):
    com = CommunityLexicon(tmp_path / "community")
    errors: list[BaseException] = []

    def add(word):
        try:
            CommunityLexicon(com.root).add(word, letter_pose, added_by=word)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=add, args=(w,)) for w in ("شمس", "قمر", "نجم", "بحر")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r["words"] for r in com.records()) == sorted(["شمس", "قمر", "نجم", "بحر"])


def test_a_process_killed_in_the_middle_of_an_add_leaves_the_lexicon_as_it_was(tmp_path, jos_pose_files):
    folder = tmp_path / "community"
    com = CommunityLexicon(folder)
    com.add("قمر", PoseSequence.load(jos_pose_files[2]), added_by="rana")
    index_before = (folder / "index.csv").read_bytes()
    marker = tmp_path / "paused"
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from syrisign.community import CommunityLexicon
        from syrisign.pose import PoseSequence
        def pause():
            Path({str(marker)!r}).write_text("in the add")
            time.sleep(120)
        CommunityLexicon({str(folder)!r}).add("شمس", PoseSequence.load({str(jos_pose_files[3])!r}),
                                            added_by="omar", video=b"GIF89a...", video_ext=".gif", _pause=pause)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the adding process ended before its pause"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # its files and meta row are written, its index row is not: kill it there
        assert len(list((folder / "signs").glob("*.pose"))) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert (folder / "index.csv").read_bytes() == index_before
    assert [r["words"] for r in com.records()] == ["قمر"]
    assert [e.words for e in Lexicon.load(folder).entries] == ["قمر"]
    # the lock died with the process: the next add goes through and clears what the killed one left
    com.add("نجم", PoseSequence.load(jos_pose_files[4]), added_by="rana")
    assert sorted(r["words"] for r in com.records()) == ["قمر", "نجم"]
    listed = {r["id"] for r in com.records()}
    assert {p.name.split(".")[0] for p in (folder / "signs").iterdir()} == listed
    assert "omar" not in (folder / "meta.csv").read_text(encoding="utf-8")


# -- the API --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def jos_lexicon(tmp_path_factory) -> Path:
    from syrisign.lexicon import DefaultLexiconConfig, build_default_lexicon

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYRISIGN_HOME", str(tmp_path_factory.mktemp("home")))
        return build_default_lexicon(tmp_path_factory.mktemp("lexicon"), progress=False,
                                     config=DefaultLexiconConfig(parts=("jos",)))


def make_client(lexicon: Path, tmp_path: Path, tokens: str | None = f"rana:{TOKEN}\n", **kw) -> TestClient:
    from syrisign.api import ServiceConfig, create_app
    from syrisign.pipeline import Pipeline

    tokens_file = ""
    if tokens is not None:
        (tmp_path / "tokens").write_text(tokens)
        tokens_file = str(tmp_path / "tokens")
    config = ServiceConfig(max_chars=120, size=128, timeout=120, tokens_file=tokens_file,
                           community=str(tmp_path / "community"), **kw)
    app = create_app(config, pipeline=Pipeline(lexicon=Lexicon.load(lexicon), fuzzy=False, progress=False))
    client = TestClient(app)
    client.__enter__()
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").text
        time.sleep(0.05)
    return client


def plan_of(client: TestClient, text: str) -> list[dict]:
    r = client.post("/v1/translate", json={"text": text, "format": "json", "landmarks": False})
    assert r.status_code == 200, r.text
    return r.json()["plan"]["items"]


def test_writes_are_off_without_tokens(jos_lexicon, tmp_path, monkeypatch):
    monkeypatch.delenv("SYRISIGN_TOKENS", raising=False)
    client = make_client(jos_lexicon, tmp_path, tokens=None)
    try:
        assert client.get("/v1/info").json()["contributions"]["enabled"] is False
        r = client.post("/v1/lexicon/entries", data={"word": "زواج"}, files={"file": ("z.mp4", clip(GOOD))},
                        headers=AUTH)
        assert r.status_code == 403 and r.json()["error"] == "writes_off" and "--tokens" in r.json()["message"]
        assert client.get("/v1/lexicon/entries?source=community").json()["total"] == 0  # reading stays open
    finally:
        client.__exit__(None, None, None)


def test_bad_uploads_are_refused_and_add_nothing(jos_lexicon, tmp_path):
    client = make_client(jos_lexicon, tmp_path, max_upload_bytes=1_000_000, max_upload_seconds=8.0)
    good = clip(GOOD)
    try:
        def post(data: bytes, name="sign.mp4", word="زواج", headers=AUTH):
            return client.post("/v1/lexicon/entries", data={"word": word}, files={"file": (name, data)},
                               headers=headers)

        cases = [
            (post(good, headers={}), 401, "token_required"),
            (post(good, headers={"Authorization": "Bearer nope"}), 403, "wrong_token"),
            (post(good, headers={"Authorization": TOKEN}), 401, "token_required"),
            (post(b""), 422, "empty_file"),
            (post("هذا ليس فيديو".encode() * 50, name="sign.mp4"), 415, "not_a_video"),
            (post(b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000)), 422, "corrupt_video"),
            (post(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1_200_000), 413, ("file_too_large", "body_too_large")),
            (post(lavfi_video(tmp_path, 60, "long.mp4")), 413, "too_long"),
            (post(lavfi_video(tmp_path, 2, "nobody.mp4")), 422, "no_person"),
            (post(good, word="   "), 422, "word_required"),
            (post(good, word="hello"), 422, "bad_word"),
        ]
        for r, status, code in cases:
            assert r.status_code == status and r.json()["error"] in (code if isinstance(code, tuple) else (code,)), \
                (status, code, r.text)
            assert "Traceback" not in r.text and "/tmp" not in r.text
        # a real recording whose signing hand MediaPipe loses: the failed check and its reason, nothing added
        r = post(clip(ONE_HAND_LOST), word="السلام")
        assert r.status_code == 422 and r.json()["error"] == "failed_checks", r.text
        failed = [c for c in r.json()["checks"] if not c["ok"]]
        assert [c["name"] for c in failed] == ["hands"] and "80 %" in failed[0]["message"]
        assert client.get("/v1/lexicon/entries").json()["total"] == 0
        assert not (tmp_path / "community" / "index.csv").exists() or \
            CommunityLexicon(tmp_path / "community").records() == []
        assert plan_of(client, "زواج")[0]["kind"] == "fingerspell"
    finally:
        client.__exit__(None, None, None)


def test_a_sign_added_over_http_is_used_at_once_and_a_deleted_one_no_more(jos_lexicon, tmp_path):
    client = make_client(jos_lexicon, tmp_path)
    try:
        assert plan_of(client, "زواج")[0]["kind"] == "fingerspell"
        # two contributors at once: both land
        results: list = []

        def add(word):
            results.append(client.post("/v1/lexicon/entries", data={"word": word, "english": "marriage"},
                                       files={"file": ("z.mp4", clip(GOOD))}, headers=AUTH))
        threads = [threading.Thread(target=add, args=("زواج",)) for _ in range(2)]  # the same word, at once
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status_code for r in results] == [201, 201], [r.text for r in results]
        body = results[0].json()
        assert body["ok"] and {c["name"] for c in body["checks"]} >= {"person", "hands", "duration"}
        assert body["entry"]["added_by"] == "rana" and "video" not in body["entry"]
        listed = client.get("/v1/lexicon/entries?source=community").json()
        assert listed["total"] == 2 and [e["words"] for e in listed["entries"]] == ["زواج", "زواج"]  # two recordings
        assert len({e["id"] for e in listed["entries"]}) == 2

        item = plan_of(client, "زواج")[0]
        assert item["kind"] == "lexicon" and "community recording" in item["note"] and "rana" in item["note"]
        info = client.get("/v1/info")
        assert info.json()["contributions"]["community_signs"] == 2
        assert str(tmp_path) not in info.text  # no server paths

        first, second = (e["id"] for e in listed["entries"])
        assert client.delete(f"/v1/lexicon/entries/{first}").status_code == 401
        assert client.delete(f"/v1/lexicon/entries/{'0' * 32}", headers=AUTH).status_code == 404
        r = client.delete(f"/v1/lexicon/entries/{first}", headers=AUTH)
        assert r.status_code == 200 and r.json()["entry"]["removed_by"] == "rana"
        item = plan_of(client, "زواج")[0]  # the other recording still signs it
        assert item["kind"] == "lexicon" and second in json.dumps(item, ensure_ascii=False) and first not in \
            json.dumps(item, ensure_ascii=False)
        assert client.delete(f"/v1/lexicon/entries/{second}", headers=AUTH).status_code == 200
        assert plan_of(client, "زواج")[0]["kind"] == "fingerspell"  # no longer signed with them
        CommunityLexicon(tmp_path / "community").restore(first)  # the admin undoes a removal
    finally:
        client.__exit__(None, None, None)


def test_the_page_flow_upload_progress_preview_confirm(jos_lexicon, tmp_path):
    client = make_client(jos_lexicon, tmp_path)
    try:
        r = client.post("/v1/contributions", data={"word": "زواج"}, files={"file": ("z.mp4", clip(GOOD))},
                        headers=AUTH)
        assert r.status_code == 202, r.text
        cid = r.json()["id"]
        assert client.get(f"/v1/contributions/{cid}").status_code == 401
        stages = []
        deadline = time.monotonic() + 120
        while True:
            c = client.get(f"/v1/contributions/{cid}", headers=AUTH).json()
            stages.append(c["status"])
            if c["status"] in ("ready", "failed"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert c["status"] == "ready" and c["ok"] and c["progress"] == 1.0, c
        assert 0.4 <= c["signing_seconds"] <= 6
        preview = client.get(f"/v1/contributions/{cid}/preview", headers=AUTH)
        assert preview.status_code == 200 and preview.headers["content-type"] == "video/mp4"
        assert preview.content[4:8] == b"ftyp" and len(preview.content) > 5000
        assert client.get("/v1/lexicon/entries").json()["total"] == 0  # not before the confirmation
        r = client.post(f"/v1/contributions/{cid}/confirm", headers=AUTH)
        assert r.status_code == 201 and r.json()["entry"]["words"] == "زواج"
        again = client.post(f"/v1/contributions/{cid}/confirm", headers=AUTH)
        assert again.status_code == 201 and again.json()["entry"]["id"] == r.json()["entry"]["id"]
        assert client.get("/v1/lexicon/entries").json()["total"] == 1  # confirmed once, added once
        rec = CommunityLexicon(tmp_path / "community").records()[0]
        assert (tmp_path / "community" / "signs" / rec["video"]).read_bytes() == clip(GOOD)  # the source kept
        assert client.get(f"/v1/contributions/{'f' * 32}", headers=AUTH).status_code == 404
        page = client.get("/contribute")
        assert page.status_code == 200 and 'dir="rtl"' in page.text and "camera=(self)" in \
            page.headers["permissions-policy"]
        assert client.get("/static/contribute.js").status_code == 200
    finally:
        client.__exit__(None, None, None)


# -- the CLI --------------------------------------------------------------------------------------------------
def test_cli_add_checks_lists_removes_and_exports(tmp_path, capsys):
    from syrisign.cli import main

    folder = tmp_path / "community"
    bad = tmp_path / "السلام.mp4"
    bad.write_bytes(clip(ONE_HAND_LOST))
    assert main(["lexicon", "add", "--word", "السلام", "--community", str(folder), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "hands" in err and err.count("\n") == 1 and not CommunityLexicon(folder).records()
    good = tmp_path / "زواج.mp4"
    good.write_bytes(clip(GOOD))
    assert main(["lexicon", "add", "--word", "زواج", "--by", "rana", "--community", str(folder), str(good)]) == 0
    (rec,) = CommunityLexicon(folder).records()
    assert rec["added_by"] == "rana"
    capsys.readouterr()
    assert main(["lexicon", "list", "--community", str(folder)]) == 0
    assert "زواج" in capsys.readouterr().out
    assert main(["lexicon", "export", str(tmp_path / "c.zip"), "--community", str(folder)]) == 0
    assert zipfile.is_zipfile(tmp_path / "c.zip")
    assert main(["lexicon", "remove", rec["id"], "--community", str(folder)]) == 0
    assert CommunityLexicon(folder).records() == []
    assert main(["lexicon", "remove", rec["id"], "--restore", "--community", str(folder)]) == 0
    assert len(CommunityLexicon(folder).records()) == 1


@pytest.mark.slow
def test_the_server_killed_in_the_middle_of_an_add_restarts_with_the_lexicon_whole(tmp_path, letter_pose):
    """`syrisign serve` is SIGKILLed inside an add (files written, the index not yet); after a restart the
    lexicon loads and the add is wholly absent; the next add goes through."""
    import urllib.request

    from test_web_browser import SERVERS, start_server

    community = tmp_path / "community"
    (tmp_path / "tokens").write_text(f"rana:{TOKEN}\n")
    marker = tmp_path / "paused"
    before = CommunityLexicon(community).add("قمر", letter_pose, added_by="rana")  # a sign already there
    args = ("--tokens", str(tmp_path / "tokens"), "--community", str(community))

    def upload(url: str, word: str) -> int:
        boundary = "syrisign-test-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"word\"\r\n\r\n{word}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"z.mp4\"\r\n"
                "Content-Type: video/mp4\r\n\r\n").encode() + clip(GOOD) + f"\r\n--{boundary}--\r\n".encode()
        req = urllib.request.Request(f"{url}/v1/lexicon/entries", data=body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", **AUTH})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.status
        except OSError:
            return -1  # the server died under it

    (tmp_path / "first").mkdir()
    os.environ["SYRISIGN_PAUSE_IN_ADD"] = str(marker)
    try:
        gen = start_server(tmp_path / "first", *args)
        url = next(gen)
    finally:
        del os.environ["SYRISIGN_PAUSE_IN_ADD"]
    status: list[int] = []
    t = threading.Thread(target=lambda: status.append(upload(url, "زواج")))
    t.start()
    deadline = time.monotonic() + 180
    while not marker.exists():
        assert time.monotonic() < deadline, "the add never reached its pause"
        time.sleep(0.1)
    assert len(list((community / "signs").glob("*.pose"))) == 2  # written, not yet listed
    os.kill(SERVERS[url].pid, signal.SIGKILL)
    t.join(60)
    gen.close()
    assert status == [-1]

    (tmp_path / "second").mkdir()
    gen = start_server(tmp_path / "second", *args)
    url = next(gen)
    try:
        listed = json.load(urllib.request.urlopen(f"{url}/v1/lexicon/entries?source=community", timeout=10))
        assert [e["id"] for e in listed["entries"]] == [before["id"]]  # the killed add: wholly absent
        assert [e.words for e in Lexicon.load(community).entries] == ["قمر"]
        assert upload(url, "زواج") == 201
        listed = json.load(urllib.request.urlopen(f"{url}/v1/lexicon/entries?source=community", timeout=10))
        assert sorted(e["words"] for e in listed["entries"]) == ["زواج", "قمر"]
        assert len(list((community / "signs").glob("*.pose"))) == 2  # the killed add's files are gone
    finally:
        gen.close()

