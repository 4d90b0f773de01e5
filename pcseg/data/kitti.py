"""SemanticKITTI on disk: find the scans of a set of sequences and load them as labelled Clouds.

Layout (semantic-kitti.org, "Data format"; also what ``pcseg synth lidar`` writes)::

    ROOT/sequences/XX/velodyne/NNNNNN.bin     float32 x y z remission
    ROOT/sequences/XX/labels/NNNNNN.label     uint32, semantic id = low 16 bits, instance = high 16 bits

Raw ids map to the 19 learning classes with the official ``learning_map`` (pcseg.classes.kitti_raw_to_class;
unlabeled / outlier ids -> IGNORE). Standard split (PRBonn/semantic-kitti-api `config/semantic-kitti.yaml`,
``split``): train 00-07, 09, 10; valid 08; test 11-21 (no labels published). The defaults of
``DataConfig.train_sequences`` / ``val_sequences`` follow it.

Reading the files is pcseg.io.files.read_cloud's job (size checks, label count check); this module knows the
folder layout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud

# PRBonn/semantic-kitti-api config/semantic-kitti.yaml, split
SPLITS = {
    "train": ("00", "01", "02", "03", "04", "05", "06", "07", "09", "10"),
    "valid": ("08",),
    "test": tuple(f"{i:02d}" for i in range(11, 22)),
}


def sequence_id(seq: str | int) -> str:
    """'8', 8 or '08' -> '08' (YAML reads an unquoted 08 as the number 8)."""
    s = str(seq).strip()
    if not s.isdigit():
        raise PcsegError("data.sequences", f"sequence ids are numbers like 00 or 08, got {seq!r}")
    return s.zfill(2)


@dataclass(frozen=True)
class ScanRef:
    """One scan on disk; ``label`` is None when the scan has no label file."""

    sequence: str
    frame: str
    scan: Path
    label: Path | None

    @property
    def name(self) -> str:
        """'08_000123'."""
        return f"{self.sequence}_{self.frame}"


def find_scans(root: str | os.PathLike, sequences: Sequence[str | int], require_labels: bool = True) -> list[ScanRef]:
    """Every ``velodyne/*.bin`` of the given sequences, sorted by sequence then frame.

    A missing root / sequence folder, a sequence without scans, or (with ``require_labels``) a scan without
    its ``labels/NNNNNN.label`` raises PcsegError naming the path.
    """
    root = Path(root)
    seq_root = root / "sequences"
    if not seq_root.is_dir():
        if root.name == "sequences" and root.is_dir():
            seq_root = root
        else:
            raise PcsegError(root, "not a SemanticKITTI root: no sequences/ folder "
                                   "(get the dataset from semantic-kitti.org or run `pcseg synth lidar OUT`)")
    refs: list[ScanRef] = []
    for seq in (sequence_id(s) for s in sequences):
        velodyne = seq_root / seq / "velodyne"
        if not velodyne.is_dir():
            raise PcsegError(velodyne, f"sequence {seq} not found (no velodyne/ folder)")
        scans = sorted(velodyne.glob("*.bin"))
        if not scans:
            raise PcsegError(velodyne, f"sequence {seq} has no .bin scans")
        for scan in scans:
            label = seq_root / seq / "labels" / f"{scan.stem}.label"
            if not label.is_file():
                if require_labels:
                    raise PcsegError(label, "label file missing for this scan")
                label = None
            refs.append(ScanRef(seq, scan.stem, scan, label))
    return refs


def load_scan(ref: ScanRef) -> Cloud:
    """A scan as a Cloud: coord, intensity (remission), label (19 classes, IGNORE for unlabeled) and
    meta["raw_label"] (raw ids) when it has labels."""
    from pcseg.io.files import read_cloud, read_kitti_bin

    if ref.label is None:
        cloud = read_kitti_bin(ref.scan)
    else:
        cloud = read_cloud(ref.scan, labels=ref.label)
    cloud.meta.update({"sequence": ref.sequence, "frame": ref.frame, "name": ref.name})
    return cloud


class ScanLoader:
    """A picklable zero-argument callable returning one scan's Cloud (for DataLoader workers and the engine's
    (name, loader) validation lists)."""

    def __init__(self, ref: ScanRef):
        self.ref = ref

    def __call__(self) -> Cloud:
        return load_scan(self.ref)

    def __repr__(self) -> str:
        return f"ScanLoader({self.ref.scan})"


__all__ = ["SPLITS", "ScanRef", "ScanLoader", "find_scans", "load_scan", "sequence_id"]
