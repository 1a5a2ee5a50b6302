"""Datasets: build from recordings, open, split, describe.

Named datasets build from ``$SYRISIGN_DATA`` into ``$SYRISIGN_HOME/datasets/<name>``:
``karsl-words``, ``karsl-letters``, ``isl``, ``asl-app``, ``jos``, ``esharah`` (the Saudi dictionary's
107 words and 38 letters).
"""
from __future__ import annotations

from pathlib import Path

from syrisign.data.dataset import Dataset, DatasetError, Sample
from syrisign.settings import get_settings

# name -> (input relative to SYRISIGN_DATA, or a named input; source importer)
PRESETS: dict[str, tuple[str, str]] = {
    "karsl-words": ("karsl/word_frames", "karsl-words"),
    "karsl-letters": ("karsl/letters_digits_mp4", "karsl-videos"),
    "isl": ("isl_kinect", "isl-kinect"),
    "asl-app": ("asl_app", "asl-app"),
    "jos": ("jos", "pose-lexicon"),
    "esharah": ("esharah", "esharah"),
}


def preset_input(name: str) -> tuple[Path | str, str]:
    rel, source = PRESETS[name]
    if rel == "jos":
        return rel, source
    path = get_settings().data / rel
    if not path.exists():
        raise DatasetError(f"{path} not found: set SYRISIGN_DATA to the folder holding the shared recordings")
    return path, source


def ensure_dataset(name_or_path: str, progress: bool = True, workers: int | None = None) -> Dataset:
    """Open a dataset; a named one that is not built yet is built first (resuming a partial build)."""
    from syrisign.data.build import build_dataset

    p = Path(name_or_path)
    if (p / "manifest.csv").is_file():
        return Dataset(p)
    if name_or_path not in PRESETS:
        return Dataset.open(name_or_path)
    from syrisign.data.sources import converted_by_another_version
    out = get_settings().dataset(name_or_path)
    if (out / "manifest.csv").is_file() and not (out / ".building").exists():
        ds = Dataset(out)
        # a dataset made by an older converter of its source is converted again
        if not converted_by_another_version(ds.meta, PRESETS[name_or_path][1]):
            return ds
    inp, source = preset_input(name_or_path)
    out.mkdir(parents=True, exist_ok=True)
    (out / ".building").touch()
    build_dataset(inp, out, source=source, workers=workers, progress=progress)
    (out / ".building").unlink()
    return Dataset(out)


__all__ = ["Dataset", "DatasetError", "Sample", "PRESETS", "ensure_dataset", "preset_input"]
