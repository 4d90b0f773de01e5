"""Shared assertion for the model tests: a backward pass reaches every parameter."""

import torch


def assert_every_parameter_learns(model: torch.nn.Module, loss: torch.Tensor) -> None:
    """Backpropagate ``loss`` and check that every parameter got a finite, non-zero gradient (a layer that is
    built but never used fails here)."""
    loss.backward()
    assert torch.isfinite(loss)
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def random_blocks(b: int = 2, n: int = 256, c: int = 9, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Blocks as the engine feeds 3D models: features whose first three channels are the coordinates.

    Shapes: -> features (b, c, n), coord (b, n, 3)."""
    g = torch.Generator().manual_seed(seed)
    coord = torch.rand(b, n, 3, generator=g)
    return torch.cat([coord.transpose(1, 2), torch.rand(b, c - 3, n, generator=g)], 1), coord


def settle_batch_norm(model: torch.nn.Module, batches: list[tuple[torch.Tensor, ...]]) -> torch.nn.Module:
    """Run a few training-mode passes so batch-norm statistics are not trivial, then switch to eval."""
    model.train()
    for inputs in batches:
        model(*inputs)
    return model.eval()
