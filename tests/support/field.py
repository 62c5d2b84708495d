"""Reading the boundary's drawing back from a figure: its field images (PNG data URLs) and its line trace."""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def png_rgb(source: str) -> np.ndarray:
    """A 'data:image/png;base64,…' URL -> (H, W, 3) uint8, decoded by Pillow (not by our encoder)."""
    assert source.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def array(v) -> np.ndarray:
    """An x / y / z as plotly.io encodes it (a base64 typed array) or a plain list -> numpy."""
    if isinstance(v, dict):
        out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return out.reshape([int(n) for n in v["shape"].split(",")]) if "shape" in v else out
    return np.asarray(v, dtype=np.float64)


def lines(traces: list[dict]) -> list[dict]:
    """The boundary-line traces (one per panel)."""
    return [t for t in traces if t.get("name") == "boundary line"]
