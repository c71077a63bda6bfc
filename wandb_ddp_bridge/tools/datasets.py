"""Tiny synthetic datasets (YOLO layouts) for the demo, the examples and smoke tests.

Random 64x64 images, each with one solid box and its YOLO label; ``train`` and ``val`` share the images.
:func:`make_task_dataset` writes the same kind of data for every Ultralytics task: polygons (segment),
rotated boxes (obb), keypoints with ``kpt_shape`` (pose) and class folders (classify). Nothing is downloaded.
Needs numpy and Pillow (both come with ultralytics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["TASKS", "make_detection_dataset", "make_task_dataset"]


def make_detection_dataset(root: str | Path, *, images: int = 8, size: int = 64, seed: int = 0) -> Path:
    """Write ``images`` images with one box each under ``root`` and return the path of ``data.yaml``."""
    import numpy as np
    from PIL import Image

    if images < 1 or size < 16:
        raise ValueError(f"need images >= 1 and size >= 16 (got images={images}, size={size})")
    root = Path(root)
    rng = np.random.default_rng(seed)
    image_dir, label_dir = root / "images" / "train", root / "labels" / "train"
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    for i in range(images):
        pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        x0, y0 = (int(v) for v in rng.integers(4, size // 2, 2))
        w, h = (int(v) for v in rng.integers(size // 4, size // 2, 2))
        pixels[y0 : y0 + h, x0 : x0 + w] = (255, 0, 0)
        Image.fromarray(pixels).save(image_dir / f"im{i}.jpg")
        cx, cy = (x0 + w / 2) / size, (y0 + h / 2) / size
        (label_dir / f"im{i}.txt").write_text(f"0 {cx:.4f} {cy:.4f} {w / size:.4f} {h / size:.4f}\n")
    data = root / "data.yaml"
    data.write_text(f"path: {root.resolve()}\ntrain: images/train\nval: images/train\nnames:\n  0: box\n")
    return data


#: The tasks :func:`make_task_dataset` writes data for.
TASKS = ("detect", "segment", "pose", "obb", "classify")


def make_task_dataset(root: str | Path, task: str, *, images: int = 8, size: int = 64, seed: int = 0) -> Path:
    """A dataset for one Ultralytics ``task``; returns what ``model.train(data=...)`` takes (the data yaml,
    or the dataset folder for ``classify``). Each image holds one solid box (classify: two classes, the box
    red or blue); its label is that box as the task describes it: box, polygon, rotated box or 4 keypoints."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if task == "detect":
        return make_detection_dataset(root, images=images, size=size, seed=seed)
    if images < 2 or size < 16:
        raise ValueError(f"need images >= 2 and size >= 16 (got images={images}, size={size})")
    root = Path(root)
    if task == "classify":
        return _classify_dataset(root, images=images, size=size, seed=seed)
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    image_dir, label_dir = root / "images" / "train", root / "labels" / "train"
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    for i in range(images):
        pixels, (x0, y0, w, h) = _image_with_box(rng, size, (255, 0, 0))
        Image.fromarray(pixels).save(image_dir / f"im{i}.jpg")
        # corners clockwise from top-left, normalized: the polygon, the (axis-aligned) rotated box, the keypoints
        corners = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
        points = [(x / size, y / size) for x, y in corners]
        if task == "pose":
            cx, cy = (x0 + w / 2) / size, (y0 + h / 2) / size
            values = [cx, cy, w / size, h / size] + [v for x, y in points for v in (x, y, 2.0)]
        else:
            values = [v for point in points for v in point]
        (label_dir / f"im{i}.txt").write_text("0 " + " ".join(f"{v:.4f}" for v in values) + "\n")
    extra = "kpt_shape: [4, 3]\nflip_idx: [1, 0, 3, 2]\n" if task == "pose" else ""
    data = root / "data.yaml"
    data.write_text(f"path: {root.resolve()}\ntrain: images/train\nval: images/train\n{extra}names:\n  0: box\n")
    return data


def _image_with_box(rng: Any, size: int, color: tuple[int, int, int]) -> tuple[Any, tuple[int, int, int, int]]:
    import numpy as np

    pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    x0, y0 = (int(v) for v in rng.integers(4, size // 2, 2))
    w, h = (int(v) for v in rng.integers(size // 4, size // 2, 2))
    pixels[y0 : y0 + h, x0 : x0 + w] = color
    return pixels, (x0, y0, w, h)


def _classify_dataset(root: Path, *, images: int, size: int, seed: int) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    colors = {"red": (255, 0, 0), "blue": (0, 0, 255)}
    for split in ("train", "val"):
        for i in range(images):
            name = list(colors)[i % len(colors)]
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            pixels, _ = _image_with_box(rng, size, colors[name])
            Image.fromarray(pixels).save(folder / f"im{i}.jpg")
    return root
