"""Surface normals by PCA over the k nearest neighbours, oriented towards a viewpoint.

The normal of a point is the eigenvector of the smallest eigenvalue of the covariance of its ``k`` nearest
neighbours (itself included), the classic estimate of Hoppe et al., "Surface reconstruction from
unorganized points", SIGGRAPH 1992. PCA leaves the sign open; it is chosen so that the normal points
towards a viewpoint, ``n . (v - p) >= 0``. The default viewpoint is the centroid of each cloud: in a room
block (floor, ceiling, walls around the free space) that turns floor normals up, ceiling normals down and
wall normals into the room, the same rule for every block, which is what A-CNN's counter-clockwise
ordering needs (a flipped normal reverses the order). Open3D's ``estimate_normals`` computes the same
estimate; this version runs batched on tensors inside a model's forward (CPU or CUDA), so the model needs
no prepared normals.
"""

from __future__ import annotations

import torch

from pcseg.ops.neighbors import knn


def estimate_normals(coord: torch.Tensor, k: int = 16, viewpoint: torch.Tensor | None = None,
                     backend: str = "auto") -> torch.Tensor:
    """Unit normals by PCA over the ``k`` nearest neighbours, oriented towards ``viewpoint``.

    Degenerate neighbourhoods (all points identical, fewer than 3 distinct points) still give a finite
    unit vector (whatever eigenvector the solver returns; +z when it is not finite).

    Shapes: coord (B, N, 3), viewpoint (B, 3) or None (each cloud's centroid) -> normals (B, N, 3) float32.
    """
    if coord.dim() != 3 or coord.shape[-1] != 3:
        raise ValueError(f"estimate_normals expects (B, N, 3), got {tuple(coord.shape)}")
    with torch.no_grad():
        pts = coord.detach().to(torch.float32)
        _, idx = knn(pts, pts, min(k, pts.shape[1]), backend=backend)
        b, n, kk = idx.shape
        nb = torch.gather(pts, 1, idx.reshape(b, -1, 1).expand(-1, -1, 3)).reshape(b, n, kk, 3)
        centred = nb - nb.mean(dim=2, keepdim=True)
        # in float32 under mixed precision too: autocast runs a CUDA matmul in float16, whose ~1e-3 relative
        # error swamps the smallest eigenvalue of a flat patch, the one whose eigenvector is the normal
        with torch.autocast(pts.device.type, enabled=False):
            cov = centred.transpose(2, 3) @ centred / kk                    # (B, N, 3, 3)
        normals = smallest_eigenvector(cov.double()).to(torch.float32)
        return orient_normals(pts, normals, viewpoint)


def smallest_eigenvector(cov: torch.Tensor) -> torch.Tensor:
    """Unit eigenvector of the smallest eigenvalue of symmetric positive semi-definite 3x3 matrices.

    Closed form (about 30x faster than ``torch.linalg.eigh`` on CPU for many small matrices): the smallest
    eigenvalue by the trigonometric solution of the characteristic cubic (Smith, "Eigenvalues of a
    symmetric 3x3 matrix", CACM 1961), the eigenvector as the longest cross product of two rows of
    ``cov - lambda I``. Matrices where that is ill-conditioned (a repeated smallest eigenvalue: a line,
    a single point, an isotropic blob) go through ``torch.linalg.eigh``.

    Shapes: cov (..., 3, 3) -> (..., 3), same dtype.
    """
    shape = cov.shape[:-2]
    c = cov.reshape(-1, 3, 3)
    scale = c.diagonal(dim1=1, dim2=2).sum(-1).clamp_min(1e-300)          # trace >= every eigenvalue
    c = c / scale[:, None, None]
    q = c.diagonal(dim1=1, dim2=2).sum(-1) / 3
    off = c[:, 0, 1] ** 2 + c[:, 0, 2] ** 2 + c[:, 1, 2] ** 2
    diag = (c.diagonal(dim1=1, dim2=2) - q[:, None]) ** 2
    p = torch.sqrt((diag.sum(-1) + 2 * off) / 6)
    eye = torch.eye(3, dtype=c.dtype, device=c.device)
    b = (c - q[:, None, None] * eye) / p.clamp_min(1e-300)[:, None, None]
    r = (torch.linalg.det(b) / 2).clamp(-1.0, 1.0)
    phi = torch.acos(r) / 3
    lam = q + 2 * p * torch.cos(phi + 2 * torch.pi / 3)                    # the smallest root
    m = c - lam[:, None, None] * eye
    crosses = torch.stack([torch.linalg.cross(m[:, 0], m[:, 1]), torch.linalg.cross(m[:, 0], m[:, 2]),
                           torch.linalg.cross(m[:, 1], m[:, 2])], 1)       # (n, 3, 3)
    size = crosses.norm(dim=-1)
    best = size.argmax(dim=1)
    vec = crosses[torch.arange(len(c), device=c.device), best]
    length = size.gather(1, best[:, None])
    out = vec / length.clamp_min(1e-300)
    bad = (length[:, 0] < 1e-10) | ~torch.isfinite(out).all(-1)
    if bad.any():
        out[bad] = torch.linalg.eigh(c[bad])[1][..., 0]
    return out.reshape(*shape, 3)


def unit_normals(normals: torch.Tensor) -> torch.Tensor:
    """Normals scaled to unit length; zero, tiny or non-finite ones become +z (so nothing downstream divides
    by zero). Shapes: (..., 3) -> (..., 3)."""
    length = normals.norm(dim=-1, keepdim=True)
    bad = ~torch.isfinite(length) | (length < 1e-12)
    up = torch.zeros_like(normals)
    up[..., 2] = 1.0
    return torch.where(bad, up, normals / length.clamp_min(1e-12))


def orient_normals(coord: torch.Tensor, normals: torch.Tensor,
                   viewpoint: torch.Tensor | None = None) -> torch.Tensor:
    """Unit-length normals flipped to point towards ``viewpoint`` (default: each cloud's centroid);
    zero or non-finite normals become +z.

    Shapes: coord (B, N, 3), normals (B, N, 3), viewpoint (B, 3) or None -> (B, N, 3) float32.
    """
    pts = coord.detach().to(torch.float32)
    nrm = unit_normals(normals.detach().to(torch.float32))
    view = pts.mean(dim=1) if viewpoint is None else viewpoint.to(pts)
    facing = ((view[:, None, :] - pts) * nrm).sum(-1, keepdim=True)
    return torch.where(facing < 0, -nrm, nrm)
