"""An interactive Open3D window on a labelled cloud; keys switch between prediction, ground truth, errors and
the input's own colours. The legend and the keys are printed in the terminal (the legacy Open3D window has
no text overlay)."""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from pcseg.classes import ClassSet
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.vis.palette import ERROR_LEGEND, colorize_labels, error_colors, legend_text, plain_colors

# mode -> the keys that select it (GLFW key codes are the upper-case ASCII codes)
MODE_KEYS: dict[str, tuple[str, str]] = {
    "prediction": ("1", "P"),
    "ground truth": ("2", "G"),
    "errors": ("3", "E"),
    "input colours": ("4", "C"),
}


def has_display() -> bool:
    """True when an X11 or Wayland display is announced in the environment."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def no_display_error(reason: str = "no display (DISPLAY and WAYLAND_DISPLAY are unset)") -> PcsegError:
    return PcsegError(None, f"cannot open a window: {reason}; write a picture with "
                            "`pcseg render INPUT --out picture.png` instead")


class LabelViewer:
    """Colour modes of one cloud and the Open3D window showing them.

    Shapes: cloud.coord (N, 3); pred, gt (N,) int class indices with IGNORE = -1 (either may be None)."""

    def __init__(self, cloud: Cloud, class_set: ClassSet, pred: np.ndarray | None = None,
                 gt: np.ndarray | None = None) -> None:
        self.cloud, self.class_set = cloud, class_set
        self.pred, self.gt = pred, gt
        self.modes: dict[str, Callable[[], np.ndarray]] = {}
        if pred is not None:
            self.modes["prediction"] = lambda: colorize_labels(pred, class_set).astype(np.float64) / 255
        if gt is not None:
            self.modes["ground truth"] = lambda: colorize_labels(gt, class_set).astype(np.float64) / 255
        if pred is not None and gt is not None:
            self.modes["errors"] = lambda: error_colors(pred, gt).astype(np.float64) / 255
        self.modes["input colours"] = lambda: np.asarray(plain_colors(cloud), dtype=np.float64)
        self.mode = next(iter(self.modes))
        self.vis = None
        self.geometry = None

    def help_text(self, color: bool | None = None) -> str:
        """Legend of the classes present and the keys, for the terminal."""
        present = [a for a in (self.pred, self.gt) if a is not None]
        lines = []
        if present:
            lines.append(legend_text(self.class_set, np.unique(np.concatenate(present)), color=color))
        if "errors" in self.modes:
            lines.append("errors mode: " + ", ".join(f"{name.removeprefix('error: ')} rgb{rgb}"
                                                       for name, rgb in ERROR_LEGEND))
        keys = "  ".join(f"[{'/'.join(MODE_KEYS[m])}] {m}" for m in self.modes)
        lines.append(f"keys: {keys}  [Q/Esc] quit  (mouse: rotate, wheel: zoom, shift+drag: pan)")
        return "\n".join(lines)

    def status(self, mode: str) -> str:
        if mode == "errors":
            scored = self.gt >= 0
            wrong = float(np.mean(self.pred[scored] != self.gt[scored]) * 100) if scored.any() else 0.0
            return f"showing: errors ({wrong:.1f} % of labelled points wrong, in red)"
        return f"showing: {mode}"

    def colors(self, mode: str) -> np.ndarray:
        """(N, 3) float colours of a mode."""
        return self.modes[mode]()

    def open(self, title: str = "pcseg view", width: int = 1280, height: int = 960) -> None:
        """Create the window (PcsegError when that fails) with the first mode showing."""
        import open3d as o3d

        o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
        vis = o3d.visualization.VisualizerWithKeyCallback()
        if not vis.create_window(window_name=title, width=width, height=height):
            raise no_display_error("Open3D could not create a window on this display")
        geometry = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(self.cloud.coord.astype(np.float64)))
        geometry.colors = o3d.utility.Vector3dVector(self.colors(self.mode))
        vis.add_geometry(geometry)
        option = vis.get_render_option()
        option.background_color = np.array([1.0, 1.0, 1.0])
        option.point_size = 2.0
        # every mode key is taken, also those of absent modes: Open3D's own bindings for 1..4 (colour by
        # coordinate) and P (screenshot) would otherwise fire
        for mode, keys in MODE_KEYS.items():
            for key in keys:
                vis.register_key_callback(ord(key), self._callback(mode))
        self.vis, self.geometry = vis, geometry

    def _callback(self, mode: str) -> Callable[[object], bool]:
        def switch(_vis: object) -> bool:
            return self.switch(mode)
        return switch

    def switch(self, mode: str) -> bool:
        """Show ``mode``; returns True when the colours changed (Open3D then redraws)."""
        import open3d as o3d

        if mode not in self.modes:
            need = {"prediction": "--labels", "ground truth": "--gt", "errors": "--labels and --gt"}
            print(f"no {mode} to show (needs {need.get(mode, 'labels')})", flush=True)
            return False
        self.mode = mode
        if self.geometry is not None:
            self.geometry.colors = o3d.utility.Vector3dVector(self.colors(mode))
            self.vis.update_geometry(self.geometry)
        print(self.status(mode), flush=True)
        return True

    def run(self) -> None:
        self.vis.run()

    def close(self) -> None:
        if self.vis is not None:
            self.vis.destroy_window()
            self.vis = self.geometry = None


def show(cloud: Cloud, class_set: ClassSet, pred: np.ndarray | None = None, gt: np.ndarray | None = None,
         title: str = "pcseg view") -> None:
    """Print the legend and keys, open the window and block until it is closed.

    Raises PcsegError (pointing to ``pcseg render``) when there is no display or no window can be made."""
    if not has_display():
        raise no_display_error()
    viewer = LabelViewer(cloud, class_set, pred, gt)
    viewer.open(title)
    print(viewer.help_text(), flush=True)
    print(viewer.status(viewer.mode), flush=True)
    try:
        viewer.run()
    finally:
        viewer.close()


__all__ = ["LabelViewer", "MODE_KEYS", "has_display", "no_display_error", "show"]
