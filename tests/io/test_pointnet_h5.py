"""PointNet HDF5 blocks: the writer follows the reference column recipe; the reader recovers whole rooms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.pointnet_h5 import read_pointnet_h5_rooms, room_to_blocks, write_pointnet_h5


def _synthetic_room(rng: np.random.Generator, n: int, extent: tuple[float, float, float],
                    origin: tuple[float, float, float]) -> Cloud:
    coord = rng.uniform(0, 1, (n, 3)) * extent + origin
    color = rng.integers(0, 256, (n, 3)) / 255.0
    label = rng.integers(0, 13, n)
    return Cloud(coord=coord, color=color, label=label)


def test_block_columns_follow_the_reference_recipe() -> None:
    rng = np.random.default_rng(0)
    room = _synthetic_room(rng, 400, (2.2, 1.7, 2.5), (10.0, -3.0, 0.5))
    data, label = room_to_blocks(room, num_point=64, min_points=10, rng=rng)
    assert data.shape[1:] == (64, 9) and data.dtype == np.float32 and label.dtype == np.uint8
    shifted = room.coord.astype(np.float64) - room.coord.min(axis=0)
    room_max = shifted.max(axis=0)
    for block in data:
        # columns 6-8 are room coordinates / room max; columns 0-1 are centred on min + block/2
        xyz = block[:, 6:9].astype(np.float64) * room_max
        np.testing.assert_allclose(block[:, 2], xyz[:, 2], atol=1e-5)
        np.testing.assert_allclose(block[:, 0], xyz[:, 0] - (xyz[:, 0].min() + 0.5), atol=1e-5)
        np.testing.assert_allclose(block[:, 1], xyz[:, 1] - (xyz[:, 1].min() + 0.5), atol=1e-5)
        assert np.ptp(xyz[:, 0]) <= 1.0 + 1e-5 and np.ptp(xyz[:, 1]) <= 1.0 + 1e-5
        assert block[:, 3:6].min() >= 0 and block[:, 3:6].max() <= 1


def test_round_trip_recovers_rooms(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rooms = [("Area_1", "conferenceRoom_1", _synthetic_room(rng, 700, (3.0, 2.0, 2.8), (5.0, 7.0, 0.2))),
             ("Area_2", "office_10", _synthetic_room(rng, 300, (1.6, 2.4, 3.1), (-4.0, 2.0, -1.0)))]
    # every block holds < num_point points, so every point is written (with repeats padding the blocks);
    # blocks_per_file=7 splits rooms across files
    files = write_pointnet_h5(tmp_path, rooms, num_point=256, min_points=1, blocks_per_file=7)
    assert len(files) > 2
    assert (tmp_path / "all_files.txt").read_text().splitlines()[0] == f"{tmp_path.name}/ply_data_all_0.h5"
    got = list(read_pointnet_h5_rooms(tmp_path))
    assert [(a, r) for a, r, _ in got] == [(a, r) for a, r, _ in rooms]
    for (_, _, want), (area, room, cloud) in zip(rooms, got):
        assert cloud.meta["area"] == area and cloud.meta["room"] == room
        assert len(cloud) == len(want)  # duplicates across overlapping blocks removed exactly
        ref = want.coord.astype(np.float64) - want.coord.min(axis=0)
        dist, idx = cKDTree(ref).query(cloud.coord)
        assert dist.max() < 1e-4
        assert len(np.unique(idx)) == len(want)
        np.testing.assert_array_equal(cloud.label, want.label[idx])
        np.testing.assert_allclose(cloud.color, want.color[idx], atol=1e-6)
        assert any("recovered" in note for note in cloud.meta["repairs"])


def test_subsampled_blocks_give_subset(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    room = _synthetic_room(rng, 3000, (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))
    write_pointnet_h5(tmp_path, [("Area_3", "WC_1", room)], num_point=128, min_points=1)
    (_, _, cloud), = read_pointnet_h5_rooms(tmp_path)
    dist, idx = cKDTree(room.coord - room.coord.min(axis=0)).query(cloud.coord)
    assert dist.max() < 1e-4 and len(cloud) < len(room)
    np.testing.assert_array_equal(cloud.label, room.label[idx])


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(PcsegError, match="no ply_data_all"):
        list(read_pointnet_h5_rooms(tmp_path))
    rng = np.random.default_rng(3)
    write_pointnet_h5(tmp_path, [("Area_1", "office_1", _synthetic_room(rng, 200, (1.5, 1.5, 1.0), (0, 0, 0)))],
                      num_point=64, min_points=1)
    listing = tmp_path / "room_filelist.txt"
    listing.write_text(listing.read_text() + "Area_1_office_2\n")
    with pytest.raises(PcsegError, match=r"room_filelist\.txt: names \d+ blocks but the \.h5 files hold \d+"):
        list(read_pointnet_h5_rooms(tmp_path))
    (tmp_path / "ply_data_all_0.h5").write_bytes(b"not hdf5")
    with pytest.raises(PcsegError, match="not a PointNet block file"):
        list(read_pointnet_h5_rooms(tmp_path))
