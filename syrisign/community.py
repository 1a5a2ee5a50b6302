"""The community lexicon: signs recorded by the people who sign, added from the web page, the API or the CLI.

A folder (``$SYRISIGN_HOME/lexicons/community`` unless told otherwise) in the spoken-to-signed schema, so
another SyriSign or spoken-to-signed loads it as it is:

- ``index.csv``: one row per sign (``signs/<id>.pose``), priority 0, so a community recording of a word
  comes before KArSL's or the dictionary's;
- ``meta.csv``: what the schema has no column for: English, who added it (the token's name) and when,
  the source video, and ``removed_at`` for a sign taken out (the loader leaves it out);
- ``signs/<id>.pose`` and the source video beside it (``signs/<id>.mp4``, ``.webm``, ``.gif`` ...);
- ``trash/``: the files of removed signs until they are purged, so a removal can be undone.

Every change holds an exclusive lock on ``.lock`` (threads and processes alike) and commits with one
atomic rename: an add writes its files, then ``meta.csv``, then ``index.csv`` (the commit: a crash before
it leaves the lexicon as it was, with at most unlisted files); a removal writes ``meta.csv`` (the commit),
then moves the files to ``trash/``.
"""
from __future__ import annotations

import csv
import io
import os
import re
import threading
import uuid
import zipfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from syrisign.errors import SyriSignError
from syrisign.lexicon import INDEX, INDEX_COLUMNS, META, META_COLUMNS, Lexicon, LexiconEntry
from syrisign.pose import PoseSequence, atomic_write_bytes
from syrisign.settings import get_settings
from syrisign.text import surface_form

SIGNS, TRASH = "signs", "trash"
SOURCE = "community"
ID_RE = re.compile(r"^[0-9a-f]{32}$")
VIDEO_EXTS = (".mp4", ".webm", ".gif", ".mov", ".mkv", ".avi")
_THREAD_LOCK = threading.Lock()


class CommunityError(SyriSignError, ValueError):
    """A community lexicon operation that cannot be done; the message says why."""


def community_dir() -> Path:
    return get_settings().lexicons / "community"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _read_rows(path: Path) -> tuple[list[str], list[dict]]:
    if not path.is_file():
        return [], []
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames or []), list(r)


def _csv_bytes(columns: list[str], rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue().encode("utf-8")


class CommunityLexicon:
    """Add, list, remove, restore and export community signs in one folder."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root else community_dir()

    # -- locking and raw rows ---------------------------------------------------------------------
    @contextmanager
    def locked(self):
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with _THREAD_LOCK, open(self.root / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _rows(self) -> tuple[list[dict], dict[str, dict]]:
        _, index = _read_rows(self.root / INDEX)
        _, meta = _read_rows(self.root / META)
        return index, {m["id"]: m for m in meta if m.get("id")}

    @staticmethod
    def _id_of(row: dict) -> str:
        return Path(row.get("path", "")).stem

    # -- reading --------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.root / INDEX).is_file()

    def lexicon(self) -> Lexicon | None:
        """The signs in use (removed ones left out), or None when nothing was ever added."""
        if not self.exists():
            return None
        index, _ = self._rows()
        if not index:
            return Lexicon(self.root, [])
        return Lexicon.load(self.root)

    def records(self, include_removed: bool = False) -> list[dict]:
        """Every sign as a dict (id, word, english, added_by, added_at, removed_at, video, signed_language)."""
        index, meta = self._rows()
        out = []
        for row in index:
            sid = self._id_of(row)
            m = meta.get(f"{SIGNS}/{sid}", {})
            if m.get("removed_at") and not include_removed:
                continue
            out.append({"id": sid, "words": row.get("words", ""), "english": m.get("english", ""),
                        "signed_language": row.get("signed_language", ""), "added_by": m.get("added_by", ""),
                        "added_at": m.get("added_at", ""), "removed_at": m.get("removed_at", ""),
                        "removed_by": m.get("removed_by", ""), "video": m.get("video", ""),
                        "source": SOURCE})
        return out

    def get(self, sign_id: str, include_removed: bool = True) -> dict:
        if not ID_RE.match(sign_id or ""):
            raise CommunityError(f"{sign_id!r} is not a community sign id (32 hexadecimal characters)")
        for r in self.records(include_removed=include_removed):
            if r["id"] == sign_id:
                return r
        raise CommunityError(f"no community sign {sign_id}")

    # -- writing --------------------------------------------------------------------------------------
    def add(self, word: str, pose: PoseSequence, english: str = "", added_by: str = "", video: bytes | None = None,
            video_ext: str = ".mp4", signed_language: str = "", signer: str = "", _pause=None) -> dict:
        """Add one sign atomically; returns its record. ``video``: the source recording, kept beside it."""
        word = " ".join(surface_form(word or "").split())
        if not word:
            raise CommunityError("the word is empty: type the Arabic word the sign means")
        if len(word) > 80:
            raise CommunityError(f"the word has {len(word)} characters; a sign's word or phrase has at most 80")
        if len(pose) == 0:
            raise CommunityError("the recording has no frames")
        if video is not None and video_ext not in VIDEO_EXTS:
            raise CommunityError(f"unknown video type {video_ext!r}")
        from syrisign.retarget import dominant_hand

        handed = dominant_hand(pose)
        sid = uuid.uuid4().hex
        rel = f"{SIGNS}/{sid}.pose"
        with self.locked():
            self._tidy()
            pose.save(self.root / rel)  # files first: unlisted until the index names them
            if video is not None:
                atomic_write_bytes(self.root / SIGNS / f"{sid}{video_ext}", video)
            index, meta = self._rows()
            meta[f"{SIGNS}/{sid}"] = {
                "id": f"{SIGNS}/{sid}", "english": " ".join((english or "").split()).lower(), "source": SOURCE,
                "signer": signer or added_by, "dominant": handed.dominant, "two_handed": "1" if handed.two_handed
                else "0", "form_of": "", "added_by": added_by, "added_at": _now(), "removed_at": "",
                "removed_by": "", "video": f"{sid}{video_ext}" if video is not None else ""}
            atomic_write_bytes(self.root / META, _csv_bytes(META_COLUMNS + COMMUNITY_COLUMNS, list(meta.values())))
            if _pause is not None:
                _pause()  # tests: a crash here must leave the lexicon as it was
            index.append({"path": rel, "spoken_language": "ar", "signed_language": signed_language, "start": 0,
                          "end": 0, "words": word, "glosses": word, "priority": 0})
            atomic_write_bytes(self.root / INDEX, _csv_bytes(INDEX_COLUMNS, index))  # the commit
        return self.get(sid)

    def remove(self, sign_id: str, by: str = "") -> dict:
        """Mark a sign removed (the commit), then move its files to ``trash/``; :meth:`restore` undoes it."""
        rec = self.get(sign_id)
        if rec["removed_at"]:
            raise CommunityError(f"community sign {sign_id} is already removed")
        with self.locked():
            _, meta = self._rows()
            m = meta.setdefault(f"{SIGNS}/{sign_id}", {"id": f"{SIGNS}/{sign_id}", "source": SOURCE})
            m["removed_at"], m["removed_by"] = _now(), by
            atomic_write_bytes(self.root / META, _csv_bytes(META_COLUMNS + COMMUNITY_COLUMNS, list(meta.values())))
            (self.root / TRASH).mkdir(exist_ok=True)
            for f in self._files(sign_id, SIGNS):
                os.replace(f, self.root / TRASH / f.name)
        return self.get(sign_id)

    def restore(self, sign_id: str) -> dict:
        """Undo a removal (the admin's command): files back from ``trash/``, the mark cleared."""
        rec = self.get(sign_id)
        if not rec["removed_at"]:
            raise CommunityError(f"community sign {sign_id} is not removed")
        with self.locked():
            if not (self.root / SIGNS / f"{sign_id}.pose").is_file() and not self._files(sign_id, TRASH):
                raise CommunityError(f"the files of community sign {sign_id} were purged; it cannot be restored")
            for f in self._files(sign_id, TRASH):
                os.replace(f, self.root / SIGNS / f.name)
            _, meta = self._rows()
            m = meta[f"{SIGNS}/{sign_id}"]
            m["removed_at"], m["removed_by"] = "", ""
            atomic_write_bytes(self.root / META, _csv_bytes(META_COLUMNS + COMMUNITY_COLUMNS, list(meta.values())))
        return self.get(sign_id)

    def purge(self) -> int:
        """Delete for good the files of removed signs and their rows; returns how many."""
        with self.locked():
            index, meta = self._rows()
            gone = {k for k, m in meta.items() if m.get("removed_at")}
            keep = [r for r in index if f"{SIGNS}/{self._id_of(r)}" not in gone]
            atomic_write_bytes(self.root / INDEX, _csv_bytes(INDEX_COLUMNS, keep))
            atomic_write_bytes(self.root / META, _csv_bytes(META_COLUMNS + COMMUNITY_COLUMNS,
                                                            [m for k, m in meta.items() if k not in gone]))
            for k in gone:
                for f in self._files(k.split("/")[-1], TRASH) + self._files(k.split("/")[-1], SIGNS):
                    f.unlink(missing_ok=True)
        return len(gone)

    def _tidy(self) -> None:
        """Under the lock: delete what an add that crashed before its commit left behind (files in ``signs/``
        and ``meta.csv`` rows that ``index.csv`` does not name)."""
        index, meta = self._rows()
        listed = {self._id_of(r) for r in index}
        d = self.root / SIGNS
        for f in (d.iterdir() if d.is_dir() else []):
            if f.is_file() and ID_RE.match(f.name.split(".")[0]) and f.name.split(".")[0] not in listed:
                f.unlink(missing_ok=True)
        for f in [*self.root.glob(".*.tmp"), *d.glob(".*.tmp")]:  # an atomic write cut short
            f.unlink(missing_ok=True)
        stale = [k for k in meta if k.split("/")[-1] not in listed]
        if stale:
            atomic_write_bytes(self.root / META, _csv_bytes(META_COLUMNS + COMMUNITY_COLUMNS,
                                                            [m for k, m in meta.items() if k not in stale]))

    def _files(self, sign_id: str, folder: str) -> list[Path]:
        d = self.root / folder
        return sorted(p for p in d.glob(f"{sign_id}.*") if p.is_file()) if d.is_dir() else []

    def export(self, out: str | os.PathLike) -> Path:
        """The signs in use as a zip (``index.csv``, ``meta.csv``, ``signs/``) that SyriSign or spoken-to-signed
        loads once unpacked; written atomically."""
        out = Path(out).expanduser()
        with self.locked():
            index, meta = self._rows()
            live = [r for r in index if not meta.get(f"{SIGNS}/{self._id_of(r)}", {}).get("removed_at")]
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(INDEX, _csv_bytes(INDEX_COLUMNS, live))
                z.writestr(META, _csv_bytes(META_COLUMNS + COMMUNITY_COLUMNS,
                                            [meta[f"{SIGNS}/{self._id_of(r)}"] for r in live
                                             if f"{SIGNS}/{self._id_of(r)}" in meta]))
                for r in live:
                    for f in self._files(self._id_of(r), SIGNS):
                        z.write(f, f"{SIGNS}/{f.name}")
        atomic_write_bytes(out, buf.getvalue())
        return out


COMMUNITY_COLUMNS = ["added_by", "added_at", "removed_at", "removed_by", "video"]


def with_community(lexicon: Lexicon, community: CommunityLexicon | None = None) -> Lexicon:
    """``lexicon`` with the community's signs in use added (a read-only view; its own folder unchanged)."""
    community = community or CommunityLexicon()
    extra = community.lexicon() if community.exists() else None
    if extra is None or not extra.entries:
        return lexicon
    entries: list[LexiconEntry] = list(lexicon.entries)
    for e in extra.entries:
        e.id = f"community/{Path(e.path).stem}"
        e.source = SOURCE
        entries.append(e)
    view = Lexicon(lexicon.root, entries, prefer=lexicon.prefer, missing_files=lexicon.missing_files)
    view.community = community.root  # type: ignore[attr-defined]
    return view


def unpack(zip_path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Unpack an exported community lexicon into ``dest`` (members outside it refused)."""
    dest = Path(dest).expanduser()
    with zipfile.ZipFile(zip_path) as z:
        for name in z.namelist():
            target = (dest / name).resolve()
            if not str(target).startswith(str(dest.resolve())):
                raise CommunityError(f"{zip_path}: member {name!r} would be written outside {dest}")
        z.extractall(dest)
    return dest


__all__ = ["CommunityLexicon", "CommunityError", "community_dir", "with_community", "unpack", "SOURCE"]
