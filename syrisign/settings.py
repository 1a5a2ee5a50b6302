"""Settings in one place: where the shared data is and where SyriSign keeps what it builds.

- ``SYRISIGN_DATA``: the recordings (default ``../shared/data`` beside the repository, else
  beside the working directory).
- ``SYRISIGN_HOME``: datasets, lexicons, caches and checkpoints that SyriSign builds
  (default ``~/.cache/syrisign``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    data: Path
    home: Path

    @property
    def datasets(self) -> Path:
        return self.home / "datasets"

    @property
    def lexicons(self) -> Path:
        return self.home / "lexicons"

    @property
    def checkpoints(self) -> Path:
        return self.home / "checkpoints"

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    def dataset(self, name: str) -> Path:
        return self.datasets / name

    def checkpoint(self, name: str) -> Path:
        return self.checkpoints / name


def _default_data() -> Path:
    for base in (REPO_ROOT.parent, Path.cwd().parent, Path.cwd()):
        cand = base / "shared" / "data"
        if cand.is_dir():
            return cand
    return REPO_ROOT.parent / "shared" / "data"


def get_settings() -> Settings:
    """Read the environment each call, so tests and tools can point elsewhere."""
    data = os.environ.get("SYRISIGN_DATA")
    home = os.environ.get("SYRISIGN_HOME")
    return Settings(
        data=Path(data).expanduser().resolve() if data else _default_data(),
        home=Path(home).expanduser().resolve() if home else Path.home() / ".cache" / "syrisign",
    )
