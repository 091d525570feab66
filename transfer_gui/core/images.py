"""Opening image files safely and turning whatever they hold into RGB.

Every failure becomes an `ImageError` with a reason a person can act on. Pillow's
decompression-bomb limit is enforced (an oversized image is refused before it is decoded), EXIF
orientation is applied, and grayscale, palette, alpha, CMYK and 16-bit images become 8-bit RGB.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

SUPPORTED_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)
IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"})
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
TINY_SIDE = 16
BOMB_REASON = (
    f"too many pixels (over the {MAX_PIXELS:,} limit): refused as a possible decompression bomb"
)

# Refuse, rather than decode, anything over the pixel limit: Pillow only warns between 1x and 2x.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageError(Exception):
    """A file that cannot be used as an image, with the reason why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def is_ignored(name: str) -> bool:
    """Hidden and system files (".DS_Store", "Thumbs.db", "._name") are skipped silently."""
    return name.startswith(".") or name.lower() in IGNORED_NAMES


def is_supported(name: str) -> bool:
    return Path(name).suffix.lower() in SUPPORTED_EXTENSIONS


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open `path` lazily (header only), refusing empty, unreadable and oversized files."""
    try:
        if os.path.getsize(path) == 0:
            raise ImageError(path, "empty file (0 bytes)")
        image = Image.open(path)
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(path, "no permission to read the file") from None
    except IsADirectoryError:
        raise ImageError(path, "is a folder, not an image") from None
    except FileNotFoundError:
        raise ImageError(path, "file not found (moved, deleted or a broken link)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(path, BOMB_REASON) from None
    except UnidentifiedImageError:
        reason = "not an image Pillow can read (wrong extension or corrupt)"
        raise ImageError(path, reason) from None
    except OSError as exc:
        raise ImageError(path, f"cannot be read: {exc.strerror or exc}") from None
    return image


def decode(path: str | os.PathLike[str], min_side: int | None = None) -> Image.Image:
    """Decode the first frame of `path` to an 8-bit RGB image, upright.

    With `min_side`, large JPEGs decode at reduced scale (draft mode) while keeping the shorter
    side at least `min_side` pixels, which is much faster for photographs.
    """
    image = open_image(path)
    try:
        with image:
            if min_side and image.format == "JPEG":
                image.draft("RGB", _draft_box(image.size, min_side))
            image.load()
            image = ImageOps.exif_transpose(image) or image
            return to_rgb(image)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(path, BOMB_REASON) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(path, f"truncated or corrupt image data ({exc})") from None


def _draft_box(size: tuple[int, int], min_side: int) -> tuple[int, int]:
    # draft() keeps both sides >= the box, so scale the box to the image's aspect ratio.
    width, height = size
    short = min(width, height)
    if short <= min_side:
        return size
    scale = min_side / short
    return max(1, int(width * scale)), max(1, int(height * scale))


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composed over white."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _wide_to_rgb(image)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _wide_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grayscale: scale to 8 bits instead of clipping."""
    array = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        array = array / 257.0
    else:
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        if low < 0 or high > 255:
            array = (array - low) * (255.0 / max(high - low, 1e-12))
    gray = np.clip(np.nan_to_num(array), 0, 255).round().astype(np.uint8)
    return Image.fromarray(gray, "L").convert("RGB")


def resize_short(image: Image.Image, side: int) -> Image.Image:
    """Resize so the shorter side is `side` pixels, keeping the aspect ratio (antialiased)."""
    width, height = image.size
    short = min(width, height)
    if short == side:
        return image
    scale = side / short
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def thumbnail(path: str | os.PathLike[str], size: int = 128) -> Image.Image:
    """A small RGB preview whose longer side is at most `size` (raises `ImageError`)."""
    image = decode(path, min_side=size)
    image.thumbnail((size, size), Image.Resampling.BILINEAR)
    return image
