"""What the PyG-built models share: the lazy torch_geometric import, the (B, C, N) <-> stacked-points
conversion of the 3D contract, and a shared per-point MLP."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def require_pyg():
    """``torch_geometric.nn``, or an ImportError naming the package to install."""
    try:
        import torch_geometric.nn as pyg_nn
    except ImportError as exc:
        raise ImportError("this model is built from PyTorch Geometric layers: pip install torch-geometric") from exc
    return pyg_nn


def scaled(channels: int, width: float) -> int:
    return max(8, int(round(channels * width)))


def mlp(widths: Sequence[int], last_relu: bool = True) -> nn.Sequential:
    """Linear + batch norm + ReLU per layer on (rows, channels); the last layer's ReLU and norm optional."""
    layers: list[nn.Module] = []
    for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
        last = i == len(widths) - 2
        if last and not last_relu:
            layers.append(nn.Linear(c_in, c_out))
        else:
            layers += [nn.Linear(c_in, c_out, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def stack_points(features: torch.Tensor, coord: torch.Tensor | None,
                 in_channels: int, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 3D contract's batch as PyG stacks it: every point a row, ``batch`` naming its block.

    Shapes: features (B, C, N), coord (B, N, 3) or None (then the first three feature channels, the
    block-local xyz) -> x (B*N, C), pos (B*N, 3), batch (B*N,) int64.
    """
    if features.dim() != 3 or features.shape[1] != in_channels:
        raise ValueError(f"{name} expects features (B, {in_channels}, N), got {tuple(features.shape)}")
    b, c, n = features.shape
    if coord is None:
        coord = features[:, :3].transpose(1, 2)
    if coord.shape != (b, n, 3):
        raise ValueError(f"{name} expects coord (B, N, 3) = ({b}, {n}, 3), got {tuple(coord.shape)}")
    x = features.transpose(1, 2).reshape(b * n, c)
    pos = coord.detach().to(features.dtype).reshape(b * n, 3).contiguous()
    batch = torch.arange(b, device=features.device).repeat_interleave(n)
    return x, pos, batch


def unstack_logits(logits: torch.Tensor, b: int) -> torch.Tensor:
    """Shapes: (B*N, K) -> (B, K, N)."""
    return logits.reshape(b, -1, logits.shape[-1]).transpose(1, 2)
