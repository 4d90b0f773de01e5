"""Class sets: names, palettes and label maps, each defined once.

S3DIS uses the PointNet order (charlesq34/pointnet `sem_seg/meta/class_names.txt`); `stairs` is folded into
clutter as in that reference (`indoor3d_util.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE = -1
IGNORE_COLOR = (0, 0, 0)  # unlabeled / ignored points


@dataclass(frozen=True)
class ClassSet:
    """A named list of classes with one RGB colour (0-255) each."""

    name: str
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def palette(self) -> np.ndarray:
        """(K+1, 3) uint8: row k is class k, the last row is the ignore colour (so ``palette[label]`` works
        for labels in [-1, K))."""
        return np.array(list(self.colors) + [IGNORE_COLOR], dtype=np.uint8)

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """(N,) int labels -> (N, 3) float32 colours in [0, 1]; IGNORE (-1) gets the ignore colour."""
        labels = np.asarray(labels)
        return self.palette()[labels].astype(np.float32) / 255.0


# Colours for S3DIS follow the palette widely used in S3DIS figures (charlesq34/pointnet
# `sem_seg/indoor3d_util.py` g_class2color).
S3DIS = ClassSet(
    name="s3dis",
    names=("ceiling", "floor", "wall", "beam", "column", "window", "door", "table", "chair", "sofa",
           "bookcase", "board", "clutter"),
    colors=((0, 255, 0), (0, 0, 255), (0, 255, 255), (255, 255, 0), (255, 0, 255), (100, 100, 255),
            (200, 200, 100), (170, 120, 200), (255, 0, 0), (200, 100, 100), (10, 200, 100),
            (200, 200, 200), (50, 50, 50)),
)

# S3DIS annotation file prefixes that are not classes of their own.
S3DIS_ALIASES = {"stairs": "clutter"}


# SemanticKITTI: the 19 learning classes of the official `learning_map` (PRBonn/semantic-kitti-api
# `config/semantic-kitti.yaml`); learning id 0 (unlabeled) becomes IGNORE, so pcseg class k is learning id k+1.
# Colours are that file's `color_map`, which is stored BGR there and RGB here.
SEMANTICKITTI = ClassSet(
    name="semantickitti",
    names=("car", "bicycle", "motorcycle", "truck", "other-vehicle", "person",
           "bicyclist", "motorcyclist", "road", "parking", "sidewalk", "other-ground",
           "building", "fence", "vegetation", "trunk", "terrain", "pole",
           "traffic-sign"),
    colors=((100, 150, 245), (100, 230, 245), (30, 60, 150), (80, 30, 180), (0, 0, 255),
            (255, 30, 30), (255, 40, 200), (150, 30, 90), (255, 0, 255), (255, 150, 255),
            (75, 0, 75), (175, 0, 75), (255, 200, 0), (255, 120, 50), (0, 175, 0),
            (135, 60, 0), (150, 240, 80), (255, 240, 150), (255, 0, 0)),
)

# raw SemanticKITTI label id (low 16 bits of a .label entry) -> learning id (0 = unlabeled)
SEMANTICKITTI_LEARNING_MAP = {
    0: 0, 1: 0, 10: 1, 11: 2, 13: 5, 15: 3, 16: 5, 18: 4, 20: 5, 30: 6, 31: 7, 32: 8, 40: 9, 44: 10,
    48: 11, 49: 12, 50: 13, 51: 14, 52: 0, 60: 9, 70: 15, 71: 16, 72: 17, 80: 18, 81: 19, 99: 0,
    252: 1, 253: 7, 254: 6, 255: 8, 256: 5, 257: 5, 258: 4, 259: 5,
}
# learning id -> raw id (`learning_map_inv` of the same file), for writing .label files
SEMANTICKITTI_LEARNING_MAP_INV = {
    0: 0, 1: 10, 2: 11, 3: 15, 4: 18, 5: 20, 6: 30, 7: 31, 8: 32, 9: 40, 10: 44, 11: 48, 12: 49, 13: 50,
    14: 51, 15: 70, 16: 71, 17: 72, 18: 80, 19: 81,
}


def kitti_raw_to_class(raw: np.ndarray) -> np.ndarray:
    """Raw SemanticKITTI ids (any int array; the instance bits above 16 are dropped) -> pcseg class index
    (0..18) with IGNORE for unlabeled/unmapped ids."""
    lut = np.full(1 << 16, IGNORE, dtype=np.int64)
    for raw_id, learning_id in SEMANTICKITTI_LEARNING_MAP.items():
        lut[raw_id] = learning_id - 1
    return lut[np.asarray(raw).astype(np.int64) & 0xFFFF]


def kitti_class_to_raw(labels: np.ndarray) -> np.ndarray:
    """pcseg class index (IGNORE allowed) -> raw SemanticKITTI id as uint32 (for .label files)."""
    lut = np.array([SEMANTICKITTI_LEARNING_MAP_INV[i] for i in range(20)], dtype=np.uint32)
    return lut[np.asarray(labels).astype(np.int64) + 1]

CLASS_SETS = {S3DIS.name: S3DIS, SEMANTICKITTI.name: SEMANTICKITTI}


def get_class_set(name: str) -> ClassSet:
    try:
        return CLASS_SETS[name]
    except KeyError:
        raise KeyError(f"unknown class set {name!r}; known: {', '.join(sorted(CLASS_SETS))}") from None
