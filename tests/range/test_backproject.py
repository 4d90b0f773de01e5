import numpy as np
import pytest
import torch

from pcseg.range.backproject import inverse_gaussian_window, knn_votes, pixel_scores
from pcseg.range.projection import project
from pcseg.range.reference import np_knn_votes


def test_inverse_gaussian_window():
    w = inverse_gaussian_window(5, 1.0)
    assert w.shape == (25,)
    assert float((1 - w).sum()) == pytest.approx(1.0, abs=1e-6)     # the Gaussian is normalised
    assert int(w.argmin()) == 12                                      # the centre weighs least
    assert float(w[0]) == pytest.approx(float(w[24])) and float(w[4]) == pytest.approx(float(w[20]))


def _two_walls():
    """A 3 x 6 range image: a near object (range 5, class 0) on the left, a far wall (range 20, class 1) on
    the right; plus one far point hidden behind the near object at pixel (1, 2)."""
    rng = torch.tensor([[5.0, 5, 5, 20, 20, 20]] * 3)
    pred = torch.tensor([[0, 0, 0, 1, 1, 1]] * 3)
    px = torch.tensor([2, 2, 4])
    py = torch.tensor([1, 1, 1])
    point_range = torch.tensor([5.0, 20.2, 20.0])   # winner of (1,2), the hidden far point, a wall point
    return rng, pred, px, py, point_range


def test_hidden_point_takes_its_range_neighbours_class():
    rng, pred, px, py, r = _two_walls()
    votes = knn_votes(rng, pred, px, py, r, num_classes=2, k=5, window=5, sigma=1.0, cutoff=1.0)
    assert votes.shape == (3, 2)
    assert votes.argmax(1).tolist() == [0, 1, 1]
    # the hidden point: its own (centre) vote is its pixel's class 0, the 4 others come from the wall
    assert votes[1].tolist() == [1.0, 4.0]
    # without the post-processing it would take its pixel's class
    probs = torch.nn.functional.one_hot(pred, 2).permute(2, 0, 1).float()
    assert pixel_scores(probs, px, py).argmax(1).tolist() == [0, 0, 1]


def test_cutoff_voids_far_votes():
    rng, pred, px, py, _ = _two_walls()
    lonely = torch.tensor([50.0, 50.0, 50.0])       # far from every pixel's range
    votes = knn_votes(rng, pred, px, py, lonely, num_classes=2, cutoff=1.0)
    assert votes.sum(1).tolist() == [1.0, 1.0, 1.0]   # only the centre (its own range) is near enough
    votes = knn_votes(rng, pred, px, py, lonely, num_classes=2, cutoff=0.0)
    assert votes.sum(1).tolist() == [5.0, 5.0, 5.0]   # cutoff 0 disables it


def test_bad_window():
    rng, pred, px, py, r = _two_walls()
    with pytest.raises(ValueError, match="odd"):
        knn_votes(rng, pred, px, py, r, 2, window=4)
    with pytest.raises(ValueError, match="knn_k"):
        knn_votes(rng, pred, px, py, r, 2, k=26, window=5)


def test_chunks_do_not_change_the_votes():
    g = torch.Generator().manual_seed(0)
    pts = torch.randn(3000, 3, generator=g) * torch.tensor([10.0, 10.0, 1.0])
    proj = project(pts, 16, 64, 3.0, -25.0)
    pred = torch.randint(0, 4, (16, 64), generator=g)
    a = knn_votes(proj.range, pred, proj.px, proj.py, proj.point_range, 4, chunk=1 << 20)
    b = knn_votes(proj.range, pred, proj.px, proj.py, proj.point_range, 4, chunk=257)
    assert torch.equal(a, b)


def test_matches_the_numpy_reference_on_a_real_scan(realdata):
    scan = np.fromfile(realdata / "torch-points3d/KITTI/000000.bin", dtype=np.float32).reshape(-1, 4)
    proj = project(torch.from_numpy(scan[:, :3].copy()), 64, 2048, 3.0, -25.0)
    # a smooth "prediction": classes by range band and image column, so neighbours mostly agree
    rng = proj.range.clamp_min(0)
    pred = ((rng / 7).long() + torch.arange(2048)[None, :] // 300) % 6
    ours = knn_votes(proj.range, pred, proj.px, proj.py, proj.point_range, 6)
    ref = np_knn_votes(proj.range.numpy(), proj.point_range.numpy(), pred.numpy(), proj.px.numpy(),
                       proj.py.numpy(), 6)
    assert ours.shape == (len(scan), 6)
    # identical votes except where top-k had to choose among exactly equal distances
    same = (ours.numpy() == ref).all(1)
    assert same.mean() > 0.9999
    assert (ours.argmax(1).numpy() == ref.argmax(1)).mean() > 0.9999
    # and the post-processing does change labels (hidden points, borders), so the comparison means something
    own = pred[proj.py, proj.px].numpy()
    assert (ours.argmax(1).numpy() != own).sum() > 1000


@pytest.mark.parametrize("k,window,cutoff", [(5, 5, 1.0), (3, 7, 0.5), (5, 3, 0.0), (1, 5, 1.0)])
def test_compiled_kernel_and_pytorch_path_agree(k, window, cutoff):
    g = torch.Generator().manual_seed(k * 100 + window)
    pts = torch.randn(6000, 3, generator=g) * torch.tensor([15.0, 15.0, 1.0])
    pts[:40] = pts[40:80] * 1.02                                  # hidden points behind closer ones
    proj = project(pts, 32, 256, 3.0, -25.0)
    pred = torch.randint(0, 5, (32, 256), generator=g)
    args = (proj.range, pred, proj.px, proj.py, proj.point_range, 5, k, window, 1.0, cutoff)
    a = knn_votes(*args, backend="torch")
    b = knn_votes(*args, backend="numba")
    assert a.shape == b.shape == (6000, 5)
    assert (a == b).all(1).float().mean() > 0.999
    assert bool((b.sum(1) <= k).all()) and bool((b.sum(1) >= 1).all())   # the centre always votes
    if cutoff <= 0:
        # without a cutoff a point gets k votes, or one per non-empty window pixel if there are fewer
        filled = torch.nn.functional.unfold(proj.mask[None, None].float(), window, padding=window // 2)[0]
        per_point = filled[:, proj.py * 256 + proj.px].sum(0)
        assert torch.equal(b.sum(1), per_point.clamp_max(k))


def test_unknown_backend():
    rng, pred, px, py, r = _two_walls()
    with pytest.raises(ValueError, match="backend"):
        knn_votes(rng, pred, px, py, r, 2, backend="cuda")
