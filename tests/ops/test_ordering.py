import math

import numpy as np
import pytest
import torch

from pcseg.ops.ordering import order_neighbors, ring_order


def frame(normal):
    """An orthonormal (e1, e2, n) with e2 = n x e1."""
    n = torch.as_tensor(normal, dtype=torch.float32)
    n = n / n.norm()
    helper = torch.tensor([1.0, 0, 0]) if abs(n[0]) < 0.9 else torch.tensor([0, 1.0, 0])
    e1 = torch.linalg.cross(n, helper)
    e1 = e1 / e1.norm()
    return e1, torch.linalg.cross(n, e1), n


@pytest.mark.parametrize("normal", [(0, 0, 1), (0, 0, -1), (1, 2, 3), (0.3, -1, 0.1)])
def test_shuffled_ring_comes_back_counter_clockwise(normal):
    e1, e2, n = frame(normal)
    k = 12
    angles = torch.arange(k) * (2 * math.pi / k) + 0.1
    radii = 0.5 + 0.05 * torch.arange(k)
    # points on the tangent plane plus an offset along the normal, which the projection must ignore
    ring = (radii[:, None] * (torch.cos(angles)[:, None] * e1 + torch.sin(angles)[:, None] * e2)
            + 0.2 * torch.sin(3 * angles)[:, None] * n)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        shuffle = torch.randperm(k, generator=gen)
        perm = ring_order(ring[shuffle][None, None], n[None, None])[0, 0]
        labels = shuffle[perm]                      # original angular positions, in the returned order
        # starts at the reference neighbour (slot 0) and walks counter-clockwise seen from the normal side
        assert labels[0] == shuffle[0]
        assert labels.tolist() == [(int(shuffle[0]) + i) % k for i in range(k)]


def test_flipping_the_normal_reverses_the_walk():
    e1, e2, n = frame((0, 0, 1))
    angles = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    ring = torch.cos(angles)[:, None] * e1 + torch.sin(angles)[:, None] * e2
    up = ring_order(ring[None, None], n[None, None])[0, 0].tolist()
    down = ring_order(ring[None, None], -n[None, None])[0, 0].tolist()
    assert up == [0, 1, 2, 3, 4, 5]
    assert down == [0, 5, 4, 3, 2, 1]


def test_centroid_in_slot_zero_is_not_the_reference():
    # inner ring: slot 0 is the centroid itself (zero offset); the reference must be slot 1, no NaN
    offsets = torch.tensor([[0.0, 0, 0], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, -1, 0]])
    perm = ring_order(offsets[None, None], torch.tensor([[[0.0, 0, 1]]]))[0, 0].tolist()
    # reference (0,1) at angle 0, then counter-clockwise about +z: (-1,0), (0,-1), (1,0); the centroid
    # has angle 0 too and keeps its slot order next to the reference
    assert perm == [0, 1, 3, 4, 2]


@pytest.mark.parametrize("case", ["duplicates", "collinear", "fewer than k", "all identical", "on the normal",
                                  "zero normal", "nan normal", "tiny ring"])
def test_degenerate_neighbourhoods_give_a_valid_permutation(case):
    rng = np.random.default_rng(0)
    offsets = torch.from_numpy(rng.normal(size=(8, 3)).astype(np.float32))
    normal = torch.tensor([0.0, 0, 1])
    if case == "duplicates":
        offsets[4:] = offsets[:4]
    elif case == "collinear":
        offsets = torch.linspace(-1, 1, 8)[:, None] * torch.tensor([1.0, 1.0, 0.0])
    elif case == "fewer than k":                     # ring query padding: 3 points, the first repeated
        offsets = torch.cat([offsets[:3], offsets[:1].expand(5, 3)])
    elif case == "all identical":
        offsets = torch.zeros(8, 3)
    elif case == "on the normal":
        offsets = torch.linspace(-1, 1, 8)[:, None] * normal
    elif case == "zero normal":
        normal = torch.zeros(3)
    elif case == "nan normal":
        normal = torch.tensor([float("nan"), 0.0, 1.0])
    elif case == "tiny ring":
        offsets = offsets * 1e-7
    perm = ring_order(offsets[None, None], normal[None, None])[0, 0]
    assert sorted(perm.tolist()) == list(range(8))
    if case in ("all identical", "on the normal"):
        assert perm.tolist() == list(range(8))       # no direction at all: the given order is kept
    if case == "fewer than k":                       # repeated slots stay together
        pos = [perm.tolist().index(i) for i in (0, 3, 4, 5, 6, 7)]
        assert max(pos) - min(pos) == 5


def test_order_neighbors_reorders_indices():
    xyz = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]]])
    idx = torch.tensor([[[1, 4, 2, 3]]])
    out = order_neighbors(idx, xyz, torch.zeros(1, 1, 3), torch.tensor([[[0.0, 0, 1]]]))
    assert out.tolist() == [[[1, 2, 3, 4]]]


def test_shape_errors():
    with pytest.raises(ValueError):
        ring_order(torch.zeros(2, 3, 4, 3), torch.zeros(2, 4, 3))
