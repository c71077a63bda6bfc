"""A tiny synthetic detection dataset (YOLO layout) for the demo, the examples and smoke tests.

Random 64x64 images, each with one solid box and its YOLO label; ``train`` and ``val`` share the images.
Nothing is downloaded. Needs numpy and Pillow (both come with ultralytics).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["make_detection_dataset"]


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
