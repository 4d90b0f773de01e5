"""Counter-clockwise ordering of a ring's neighbours on the tangent plane of the centroid (A-CNN).

A-CNN (Komarichev et al., CVPR 2019, sec. 3.1 "Ordering") projects the neighbours of a centroid onto the
plane orthogonal to its normal and sorts them by angle, so that a 1-D convolution can run around the ring.
The reference (artemkomarichev/a-cnn ``tf_ops/ordering/tf_ordering_g.cu``) sorts a cosine / cross-product
key measured from neighbour 0 in descending order, which walks the ring clockwise when seen from the normal
side (counter-clockwise when looking along the normal). This version measures ``atan2`` angles in an
orthonormal frame of the tangent plane (no cosine precision loss near 0 and 180 degrees) and walks
counter-clockwise seen from the normal side, as the paper describes. Only consistency matters to the
network: the 1x3 kernels learn whichever direction they are given, provided normals are oriented the
same way everywhere (:func:`pcseg.ops.normals.orient_normals`).

Conventions:
- counter-clockwise as seen from the side the normal points to (looking down ``-n``): with ``e1`` the
  reference direction and ``e2 = n x e1``, angles grow from ``e1`` towards ``e2``;
- the reference direction is the first neighbour (in the given slot order) whose projected offset is not
  zero; neighbours that coincide with the centroid or lie on its normal line get angle 0, so they sort
  next to the reference neighbour. The reference uses neighbour 0 unconditionally, which is the centroid
  itself for an inner ring and then yields NaN angles;
- the sort is stable: equal angles (duplicates, the repeated padding slots of the ring query, collinear
  points on one side) keep their slot order; a neighbourhood without any usable direction keeps the given
  order. The result is always a permutation, never NaN.
"""

from __future__ import annotations

import math

import torch

from pcseg.ops.normals import unit_normals


def ring_order(offsets: torch.Tensor, normal: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Permutation that sorts each ring counter-clockwise around its normal.

    Args:
        offsets: neighbour positions minus the centroid.
        normal: the centroid's normal (any length; zero or non-finite normals fall back to +z).
        eps: projected offsets shorter than ``eps`` times the ring's largest offset count as zero.

    Shapes: offsets (B, M, k, 3), normal (B, M, 3) -> perm (B, M, k) int64; ``offsets.gather(2, perm)``
    is the ordered ring.
    """
    if offsets.dim() != 4 or offsets.shape[-1] != 3 or normal.shape != offsets.shape[:2] + (3,):
        raise ValueError(f"ring_order expects offsets (B, M, k, 3) and normal (B, M, 3), got "
                         f"{tuple(offsets.shape)} and {tuple(normal.shape)}")
    with torch.no_grad():
        v = offsets.detach().to(torch.float32)
        n = unit_normals(normal.detach().to(torch.float32)).unsqueeze(2)         # (B, M, 1, 3)
        v = torch.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
        tangent = v - (v * n).sum(-1, keepdim=True) * n                         # (B, M, k, 3)
        size = tangent.norm(dim=-1)                                             # (B, M, k)
        scale = v.norm(dim=-1).amax(dim=-1, keepdim=True)                       # (B, M, 1)
        usable = size > eps * scale.clamp_min(1e-30)
        first = usable.to(torch.int8).argmax(dim=-1, keepdim=True)              # first usable slot (0 if none)
        ref = torch.gather(tangent, 2, first.unsqueeze(-1).expand(-1, -1, 1, 3))
        e1 = ref / ref.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        e2 = torch.cross(n.expand_as(e1), e1, dim=-1)
        x = (tangent * e1).sum(-1)
        y = (tangent * e2).sum(-1)
        angle = torch.atan2(y, x)
        # [0, 2 pi); a hair below 0 (rounding on the reference direction itself) counts as 0
        angle = torch.where(angle < -1e-6, angle + 2 * math.pi, angle.clamp_min(0.0))
        angle = torch.where(usable, angle, torch.zeros_like(angle))
        return torch.sort(angle, dim=-1, stable=True).indices


def order_neighbors(idx: torch.Tensor, xyz: torch.Tensor, center: torch.Tensor,
                    normal: torch.Tensor) -> torch.Tensor:
    """Reorder ring-query indices counter-clockwise (see :func:`ring_order`).

    Shapes: idx (B, M, k) int64 into xyz (B, N, 3), center (B, M, 3), normal (B, M, 3) -> (B, M, k) int64.
    """
    b, m, k = idx.shape
    nb = torch.gather(xyz.detach(), 1, idx.reshape(b, -1, 1).expand(-1, -1, 3)).reshape(b, m, k, 3)
    perm = ring_order(nb - center.detach().unsqueeze(2), normal)
    return torch.gather(idx, 2, perm)
