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
