"""Extraction on Ray (`syrisign data build --engine ray`): the same dataset as the local engine."""
from __future__ import annotations

import builtins
import shutil
from pathlib import Path

import numpy as np
import pytest

from syrisign.cli import main as cli
from syrisign.data import Dataset
from syrisign.data.build import build_dataset
from syrisign.pose import PoseSequence


@pytest.fixture(scope="module")
def twelve_clips(data_dir, tmp_path_factory) -> Path:
    """Eleven real KArSL letter clips and one corrupt file named like a KArSL clip."""
    src = tmp_path_factory.mktemp("karsl") / "01-train"
    src.mkdir()
    videos = sorted((data_dir / "karsl" / "letters_digits_mp4").rglob("*.mp4"))[30:41]
    for v in videos:
        shutil.copy(v, src / v.name)
    (src / "03_01_0099_(01_01_01_01_01_01)_c.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return src


@pytest.mark.slow
def test_ray_engine_builds_what_the_local_engine_builds_and_resumes(twelve_clips, tmp_path):
    pytest.importorskip("ray")
    local = build_dataset(twelve_clips, tmp_path / "local", workers=2, progress=False)
    ray_ = build_dataset(twelve_clips, tmp_path / "ray", workers=2, progress=False, engine="ray")
    for rep in (local, ray_):
        assert rep.total == 12 and rep.built == 11
        assert [sid for sid, _ in rep.failed] == ["karsl-01-0099-01_01_01_01_01_01"]
    assert ray_.engine == "ray" and ray_.frames_extracted == local.frames_extracted > 11 * 10
    # the same manifest, row for row
    a, b = Dataset(tmp_path / "local"), Dataset(tmp_path / "ray")
    assert (tmp_path / "local" / "manifest.csv").read_text() == (tmp_path / "ray" / "manifest.csv").read_text()
    assert len(a) == 11 and b.meta["extraction"]["engine"] == "ray"
    # the same landmarks
    for sa, sb in zip(a.samples, b.samples):
        pa, pb = a.load(sa), b.load(sb)
        assert pa.fps == pb.fps and pa.data.shape == pb.data.shape
        np.testing.assert_allclose(pa.data, pb.data, atol=1e-3)
        np.testing.assert_allclose(pa.confidence, pb.confidence, atol=1e-4)
    # the corrupt clip is logged, with its file, by both engines
    for name in ("local", "ray"):
        log = (tmp_path / name / "errors.log").read_text(encoding="utf-8").strip().splitlines()
        assert len(log) == 1 and "0099" in log[0] and "_c.mp4" in log[0]
    # a rerun extracts nothing and rewrites no finished sample
    poses = sorted((tmp_path / "ray" / "poses").glob("*.npz"))
    stamps = [p.stat().st_mtime_ns for p in poses]
    again = build_dataset(twelve_clips, tmp_path / "ray", workers=2, progress=False, engine="ray")
    assert again.done_before == 11 and again.built == 0 and again.frames_extracted == 0
    assert [p.stat().st_mtime_ns for p in poses] == stamps
    assert len(Dataset(tmp_path / "ray")) == 11
    assert isinstance(PoseSequence.load(poses[0]), PoseSequence)


def test_ray_engine_without_ray_says_how_to_install_it(data_dir, tmp_path, monkeypatch, capsys):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    src = data_dir / "karsl" / "letters_digits_mp4"
    rc = cli(["data", "build", str(src), str(tmp_path / "ds"), "--engine", "ray", "--limit", "1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "pip install 'syrisign[cluster]'" in err
    assert not (tmp_path / "ds" / "poses").exists() or not any((tmp_path / "ds" / "poses").iterdir())


def test_unknown_engine_is_a_clear_error(data_dir, tmp_path):
    from syrisign.errors import SyriSignError
    with pytest.raises(SyriSignError, match="local or ray"):
        build_dataset(data_dir / "karsl" / "letters_digits_mp4", tmp_path / "ds", engine="spark")
