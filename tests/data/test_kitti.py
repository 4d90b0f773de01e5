import numpy as np
import pytest

from pcseg.classes import IGNORE, SEMANTICKITTI
from pcseg.data.kitti import SPLITS, ScanLoader, find_scans, load_scan, sequence_id
from pcseg.errors import PcsegError

MMDET = "mmdetection3d/tests/data/semantickitti"


def test_real_sample_root(realdata):
    refs = find_scans(realdata / MMDET, ["00"])
    assert [(r.sequence, r.frame, r.name) for r in refs] == [("00", "000000", "00_000000")]
    cloud = load_scan(refs[0])
    assert len(cloud) == 50 and cloud.intensity is not None and cloud.label is not None
    raw = np.fromfile(realdata / MMDET / "sequences/00/labels/000000.label", dtype=np.uint32) & 0xFFFF
    assert set(np.unique(raw).tolist()) == {0, 50, 52, 70, 71, 80}
    # official learning_map: 0 unlabeled and 52 other-structure -> ignore; 50 building, 70 vegetation,
    # 71 trunk, 80 pole -> their classes
    expect = {0: IGNORE, 52: IGNORE, 50: SEMANTICKITTI.index("building"), 70: SEMANTICKITTI.index("vegetation"),
              71: SEMANTICKITTI.index("trunk"), 80: SEMANTICKITTI.index("pole")}
    assert cloud.label.tolist() == [expect[int(v)] for v in raw]
    assert cloud.meta["name"] == "00_000000"
    # the loader object is what datasets hold; it pickles (DataLoader workers)
    import pickle

    again = pickle.loads(pickle.dumps(ScanLoader(refs[0])))()
    assert np.array_equal(again.coord, cloud.coord)


def test_sequence_ids_and_split():
    assert sequence_id(8) == "08" and sequence_id("8") == "08" and sequence_id("10") == "10"
    assert SPLITS["valid"] == ("08",) and "08" not in SPLITS["train"] and len(SPLITS["train"]) == 10
    assert SPLITS["test"][0] == "11" and SPLITS["test"][-1] == "21"
    with pytest.raises(PcsegError, match="sequence"):
        sequence_id("x1")


def test_layout_errors(tmp_path):
    with pytest.raises(PcsegError, match="no sequences/ folder"):
        find_scans(tmp_path, ["00"])
    (tmp_path / "sequences/00/velodyne").mkdir(parents=True)
    with pytest.raises(PcsegError, match="no .bin scans"):
        find_scans(tmp_path, ["00"])
    with pytest.raises(PcsegError, match="sequence 01 not found"):
        find_scans(tmp_path, ["01"])
    np.zeros((3, 4), np.float32).tofile(tmp_path / "sequences/00/velodyne/000000.bin")
    with pytest.raises(PcsegError, match="label file missing") as exc:
        find_scans(tmp_path, ["00"])
    assert "000000.label" in str(exc.value)
    (ref,) = find_scans(tmp_path, ["00"], require_labels=False)
    assert ref.label is None and load_scan(ref).label is None
    # a label file with the wrong count is an error naming the file
    (tmp_path / "sequences/00/labels").mkdir()
    np.zeros(4, np.uint32).tofile(tmp_path / "sequences/00/labels/000000.label")
    with pytest.raises(PcsegError, match="4 labels for 3 points"):
        load_scan(find_scans(tmp_path, ["00"])[0])
