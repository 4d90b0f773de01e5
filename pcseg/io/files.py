"""Generic point-cloud files: ``read_cloud`` picks the reader from the extension.

One format, one module: :mod:`pcseg.io.ply`, :mod:`pcseg.io.pcd`, :mod:`pcseg.io.las`, :mod:`pcseg.io.npy`,
:mod:`pcseg.io.kitti_bin` (+ ``.label``), per-point label files in :mod:`pcseg.io.labels`; the conventions
they share (field names, colours, NaN points, huge coordinates) live in :mod:`pcseg.io.fields`. This module
re-exports their public names, so ``from pcseg.io.files import read_ply, write_labels ...`` keeps working.
All readers return a :class:`~pcseg.io.cloud.Cloud` and raise :class:`~pcseg.errors.PcsegError` naming the
file for missing, empty, truncated or malformed input.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable

from pcseg.classes import ClassSet, kitti_raw_to_class
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.fields import FLOAT32_SAFE, FieldMap
from pcseg.io.header import HEADER_LIMIT
from pcseg.io.kitti_bin import find_kitti_labels, read_kitti_bin, read_kitti_label
from pcseg.io.labels import LABEL_FORMATS, read_labels, write_labels, write_labels_chunks
from pcseg.io.las import read_las
from pcseg.io.npy import NPY_COLUMNS, read_npy, write_npy
from pcseg.io.pcd import lzf_decompress, read_pcd
from pcseg.io.ply import PlyHeader, read_ply, write_colored_ply, write_ply, write_ply_chunks

READERS: dict[str, Callable[..., Cloud]] = {
    ".ply": read_ply, ".pcd": read_pcd, ".las": read_las, ".laz": read_las, ".npy": read_npy,
    ".bin": read_kitti_bin,
}


def read_cloud(path: str | os.PathLike, labels: str | os.PathLike | None = None,
               class_set: ClassSet | None = None, label_format: str | None = None,
               point_dims: int | None = None) -> Cloud:
    """Read any supported point-cloud file (by extension: .ply .pcd .las .laz .npy .bin).

    ``labels`` names a separate label file (``.label`` or ``.npy`` in ``label_format``, see
    :func:`read_labels`); for a KITTI
    ``.bin`` without it, ``../labels/<stem>.label`` or ``<stem>.label`` is used when present, and
    meta["raw_label"] keeps the raw SemanticKITTI ids. ``point_dims`` is the number of float32 per point of a
    headerless ``.bin`` (default 4, KITTI; 5 for nuScenes ``*.pcd.bin``; see pcseg.io.kitti_bin). A label count that differs from the point count is
    an error.

    Shapes: -> Cloud (coord (N, 3) + optional color, intensity, normal, label, see Cloud).
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        if not path.exists():
            raise PcsegError(path, "no such file")
        raise PcsegError(path, f"unknown point-cloud file type {path.suffix or '(no extension)'!r} "
                               f"(known: {', '.join(sorted(READERS))})")
    if reader is read_kitti_bin:
        reader = functools.partial(read_kitti_bin, point_dims=point_dims)
        if labels is None:
            labels = find_kitti_labels(path)
    if labels is None:
        return reader(path)
    labels = Path(labels)
    cloud = reader(path, external_labels=True)
    raw = None
    if labels.suffix.lower() == ".label":
        raw = read_kitti_label(labels)
        values = kitti_raw_to_class(raw)
    else:
        values = read_labels(labels, class_set, label_format)
    if len(values) != len(cloud):
        raise PcsegError(labels, f"{len(values)} labels for {len(cloud)} points in {path.name}")
    if cloud.label is not None:
        cloud.meta["file_label_replaced"] = True
    cloud.label = values
    if raw is not None:
        cloud.meta["raw_label"] = raw
    cloud.meta["labels_source"] = str(labels)
    return cloud



__all__ = ["read_cloud", "read_ply", "read_pcd", "read_las", "read_npy", "read_kitti_bin", "read_kitti_label",
           "read_labels", "find_kitti_labels", "write_ply", "write_ply_chunks", "write_labels",
           "write_labels_chunks", "write_npy", "write_colored_ply", "lzf_decompress",
           "READERS", "NPY_COLUMNS", "FLOAT32_SAFE", "HEADER_LIMIT", "FieldMap", "PlyHeader", "LABEL_FORMATS"]
