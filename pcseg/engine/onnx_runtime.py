"""Run an exported network with onnxruntime inside pcseg's own pipeline (``pcseg segment --runtime onnx``).

``OnnxNetwork(path)`` is a torch Module whose forward feeds its tensors to an onnxruntime session and returns
the logits as a tensor, so blocks (3D models), tiles and range projections go through exactly the code they
go through with PyTorch; only the network runs elsewhere. The checkpoint (or bundled model) still gives the
run config and classes; the ONNX file must be the export of that same model: its ``pcseg_model`` and
``pcseg_class_names`` metadata are checked against it (pcseg.engine.export writes them).

Shapes: as the exported network: 3D (B, C, N) [+ (B, N, 3)] -> (B, K, N); range (B, C, H, W) -> (B, K, H, W).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pcseg.errors import PcsegError


def need_onnx() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise PcsegError("onnx", "ONNX export and the onnx runtime need the optional packages: "
                                 "pip install 'pcseg[onnx]' (onnx, onnxruntime)") from None
    return onnx, onnxruntime


def session(path: str | Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU session (``threads`` intra-op threads; default torch's setting)."""
    _, ort = need_onnx()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads or torch.get_num_threads())
    opts.inter_op_num_threads = 1
    # onnxruntime's pool threads busy-wait after each run by default; on a 2-core machine they then take
    # the cores from pcseg's own single-threaded projection and back-projection around the network
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:   # onnxruntime raises its own exception types for unreadable files
        raise PcsegError(path, f"not a readable ONNX model ({str(exc).splitlines()[0][:200]})") from None


class OnnxNetwork(torch.nn.Module):
    """An onnxruntime session behind the torch Module interface pcseg's inference code calls."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise PcsegError(self.path, "ONNX file not found")
        self.session = session(self.path, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    def check_matches(self, ckpt: dict[str, Any]) -> None:
        """PcsegError unless the file is an export of the checkpoint's model and classes."""
        model = self.metadata.get("pcseg_model")
        names = self.metadata.get("pcseg_class_names")
        if model is None or names is None:
            raise PcsegError(self.path, "no pcseg metadata: export it with pcseg export")
        if model != ckpt["model"] or json.loads(names) != list(ckpt["class_names"]):
            raise PcsegError(self.path, f"is an export of a {model!r} model with other classes or of another "
                                        f"model than the checkpoint's {ckpt['model']!r}")

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        # a 3D model exported without its unused `coord` input takes the first tensors only
        feed = {name: np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)
                for name, t in zip(self.input_names, inputs)}
        return torch.from_numpy(self.session.run(["logits"], feed)[0])

    def extra_repr(self) -> str:
        return f"path={str(self.path)!r}, inputs={self.input_names}"


__all__ = ["OnnxNetwork", "session", "need_onnx"]
