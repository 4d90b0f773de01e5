"""tools/bench_real.py: a trial checkpoint scored in a bundled model's place (needs ../shared/realdata)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import bench_real  # noqa: E402

from pcseg.pretrained import bundled_checkpoint, load_manifest  # noqa: E402

needs_realdata = pytest.mark.skipif(not bench_real.default_realdata().is_dir(), reason="../shared/realdata absent")


@needs_realdata
def test_a_trial_checkpoint_scores_as_the_bundled_model_would(tmp_path, capsys):
    # the shipped weights passed as a trial give the scores stored for them by `bench_real.py --write`
    assert bench_real.main(["--checkpoint", f"lidar={bundled_checkpoint('lidar')}",
                            "--json", str(tmp_path / "s.json")]) == 0
    got = json.loads((tmp_path / "s.json").read_text())
    assert list(got) == ["lidar"]
    stored = load_manifest()["lidar"]["scores"]["real"]
    assert stored and set(got["lidar"]["real"]) == set(stored)
    for sample, s in stored.items():
        assert got["lidar"]["real"][sample]["miou"] == pytest.approx(s["miou"], abs=1e-9)
        assert got["lidar"]["real"][sample]["oa"] == pytest.approx(s["oa"], abs=1e-9)


@needs_realdata
def test_trial_errors(tmp_path, capsys):
    cases = [["--checkpoint", f"lidar={tmp_path / 'none.pt'}"],
             ["--checkpoint", f"lidar={bundled_checkpoint('lidar')}", "--write"],
             ["--tta", "--write"],
             ["--checkpoint", f"lidar={bundled_checkpoint('indoor')}"],
             ["--checkpoint", f"outdoor={bundled_checkpoint('lidar')}"]]
    for argv in cases:
        assert bench_real.main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("bench_real: "), (argv, err)
