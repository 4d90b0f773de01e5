import numpy as np
import torch

from pcseg.ops.normals import estimate_normals, orient_normals, smallest_eigenvector


def test_plane_normals_point_towards_the_viewpoint():
    rng = np.random.default_rng(0)
    xy = rng.random((2, 300, 2), dtype=np.float32)
    pts = torch.from_numpy(np.concatenate([xy, np.full((2, 300, 1), 0.5, np.float32)], -1))
    up = estimate_normals(pts, k=10, viewpoint=torch.tensor([[0.5, 0.5, 2.0], [0.5, 0.5, 2.0]]))
    down = estimate_normals(pts, k=10, viewpoint=torch.tensor([[0.5, 0.5, -1.0], [0.5, 0.5, -1.0]]))
    assert torch.allclose(up, torch.tensor([0.0, 0, 1]).expand_as(up), atol=1e-5)
    assert torch.allclose(down, -up)


def test_sphere_normals_are_radial_and_face_the_centroid():
    rng = np.random.default_rng(1)
    d = rng.normal(size=(1, 2000, 3))
    pts = torch.from_numpy((d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)) + 3.0
    n = estimate_normals(pts, k=12)                   # default viewpoint: the centroid (the sphere centre)
    inward = -(pts - 3.0)
    cos = (n * inward).sum(-1)
    assert cos.min() > 0.95
    assert torch.allclose(n.norm(dim=-1), torch.ones(1, 2000), atol=1e-5)


def test_degenerate_clouds_give_finite_unit_normals():
    cases = [torch.zeros(1, 20, 3),                                          # all identical
             torch.linspace(0, 1, 20)[None, :, None] * torch.tensor([1.0, 2, 3]),   # a line
             torch.rand(1, 2, 3)]                                             # fewer points than k
    for pts in cases:
        n = estimate_normals(pts, k=16)
        assert n.shape == pts.shape and torch.isfinite(n).all()
        assert torch.allclose(n.norm(dim=-1), torch.ones(n.shape[:2]), atol=1e-5)


def test_orient_normals_flips_and_repairs():
    pts = torch.tensor([[[0.0, 0, 0], [0, 0, 1], [5, 5, 5]]])
    nrm = torch.tensor([[[0.0, 0, -2], [0, 0, 1], [float("nan"), 0, 0]]])
    out = orient_normals(pts, nrm, viewpoint=torch.tensor([[0.0, 0, 10]]))
    assert out[0, 0].tolist() == [0, 0, 1]             # normalised and flipped towards the viewpoint
    assert out[0, 1].tolist() == [0, 0, 1]
    assert out[0, 2].tolist() == [0, 0, 1]             # non-finite -> +z (already facing the viewpoint)


def test_closed_form_eigenvector_matches_eigh():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, 3, 3, generator=g, dtype=torch.float64)
    flat = torch.randn(500, 16, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 0.5, 1e-3],
                                                                                  dtype=torch.float64)
    flat = flat - flat.mean(1, keepdim=True)
    for cov in (a @ a.transpose(1, 2), flat.transpose(1, 2) @ flat):
        got = smallest_eigenvector(cov)
        want = torch.linalg.eigh(cov)[1][..., 0]
        assert torch.allclose((got * want).sum(-1).abs(), torch.ones(500, dtype=torch.float64), atol=1e-9)
    # repeated smallest eigenvalues (point, line, isotropic) still give unit vectors
    degenerate = torch.zeros(3, 3, 3, dtype=torch.float64)
    degenerate[1, 0, 0] = 1.0
    degenerate[2] = torch.eye(3)
    out = smallest_eigenvector(degenerate)
    assert torch.allclose(out.norm(dim=-1), torch.ones(3, dtype=torch.float64))
    assert out[1, 0].abs() < 1e-12                   # orthogonal to the line direction
