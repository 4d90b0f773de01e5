"""The prepared S3DIS cache (written by ``pcseg prepare s3dis RAW OUT``, layout in pcseg.data.prepare).

``S3DISCache(root).rooms(areas)`` lists the finished rooms; ``load(ref)`` memory-maps a room's arrays, so a
dataset only slices what it uses (Pointcept-style per-room arrays: preprocess once, load thin).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud

_AREA = re.compile(r"^Area_(\d+)$")
_HINT = "run `pcseg prepare s3dis RAW OUT` first"


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class RoomRef:
    """One cached room: area number (5 for Area_5), room name (office_1), its folder and point count."""

    area: int
    name: str
    path: Path
    points: int

    @property
    def area_name(self) -> str:
        return f"Area_{self.area}"


class S3DISCache:
    """Read access to a prepared S3DIS cache folder."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise PcsegError(self.root, f"no prepared S3DIS cache here ({_HINT})")
        if not (self.root / "summary.json").is_file() and not self._room_dirs():
            raise PcsegError(self.root, f"not a prepared S3DIS cache: no summary.json and no "
                                        f"Area_N/<room>/info.json ({_HINT})")

    def _room_dirs(self) -> list[tuple[int, Path]]:
        found = []
        for area_dir in self.root.iterdir():
            m = _AREA.match(area_dir.name)
            if not m or not area_dir.is_dir():
                continue
            for room_dir in area_dir.iterdir():
                if not room_dir.name.startswith(".") and (room_dir / "info.json").is_file():
                    found.append((int(m.group(1)), room_dir))
        return found

    def summary(self) -> dict[str, Any]:
        """The contents of summary.json."""
        path = self.root / "summary.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise PcsegError(path, f"cannot read the cache summary ({exc}); {_HINT}") from None

    def rooms(self, areas: Sequence[int] | None = None) -> list[RoomRef]:
        """Finished rooms of the given areas (all when None), sorted by area then natural room name."""
        wanted = None if areas is None else {int(a) for a in areas}
        refs = []
        for area, room_dir in self._room_dirs():
            if wanted is not None and area not in wanted:
                continue
            info_path = room_dir / "info.json"
            try:
                points = int(json.loads(info_path.read_text())["points"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise PcsegError(info_path, f"unreadable room info ({exc}); delete the room folder and "
                                            "rerun `pcseg prepare s3dis`") from None
            refs.append(RoomRef(area, room_dir.name, room_dir, points))
        refs.sort(key=lambda r: (r.area, _natural_key(r.name)))
        return refs

    def load(self, ref: RoomRef, mmap: bool = True) -> Cloud:
        """The room as a Cloud; with ``mmap`` the arrays are read-only memory maps (np.load mmap_mode="r").

        Shapes: -> coord (N, 3) float32, color (N, 3) float32 in [0, 1], label (N,) int64.
        """
        arrays = {}
        for name, dtype, width in (("coord", np.float32, 3), ("color", np.float32, 3), ("label", np.int64, 1)):
            path = Path(ref.path) / f"{name}.npy"
            try:
                arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise PcsegError(path, f"unreadable cache array ({exc}); delete the room folder and rerun "
                                       "`pcseg prepare s3dis`") from None
            shape = (ref.points, 3) if width == 3 else (ref.points,)
            if arr.dtype != dtype or arr.shape != shape:
                raise PcsegError(path, f"expected {np.dtype(dtype).name} {shape}, found {arr.dtype} {arr.shape}")
            arrays[name] = arr
        info = json.loads((Path(ref.path) / "info.json").read_text())
        return Cloud(arrays["coord"], color=arrays["color"], label=arrays["label"],
                     meta={"area": ref.area_name, "room": ref.name, "source": str(ref.path),
                           "repairs": info.get("repairs", [])})

    def __repr__(self) -> str:
        return f"S3DISCache({str(self.root)!r})"


__all__ = ["S3DISCache", "RoomRef"]
