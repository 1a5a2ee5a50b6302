"""Shared fixtures: the real recordings in $SYRISIGN_DATA, a private $SYRISIGN_HOME per test."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from syrisign.settings import get_settings


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = get_settings().data
    if not (d / "karsl").is_dir():
        pytest.fail(f"the shared recordings are not at {d}; set SYRISIGN_DATA", pytrace=False)
    return d


@pytest.fixture(autouse=True)
def tmp_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test writes its caches, datasets and checkpoints under a fresh SYRISIGN_HOME."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SYRISIGN_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def jos_pose_files() -> list[Path]:
    from syrisign.data.sources import spoken_to_signed_lexicon
    files = sorted((spoken_to_signed_lexicon().parent / "jos").glob("*.pose"))
    assert len(files) == 38
    return files


@pytest.fixture(scope="session")
def package_index() -> Path:
    """The spoken-to-signed package's own lexicon (its Jordanian fingerspelling)."""
    from syrisign.data.sources import spoken_to_signed_lexicon
    return spoken_to_signed_lexicon()


def pytest_configure(config):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_gif(video: Path, dst: Path, frame_ms: int | None = None, max_frames: int | None = None) -> Path:
    """An animated GIF of a real recording, as sign dictionaries publish them (frames quantized to a palette)."""
    from PIL import Image

    from syrisign.data.extract import read_video
    frames, _, fps = read_video(video)
    frames = frames[:max_frames] if max_frames else frames
    images = [Image.fromarray(f) for f in frames]
    images[0].save(dst, save_all=True, append_images=images[1:], duration=frame_ms or int(round(1000 / fps)),
                   loop=0)
    return dst
