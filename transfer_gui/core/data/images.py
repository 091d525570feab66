"""Opening image files safely and turning whatever they hold into RGB.

Every failure becomes an `ImageError` with a reason a person can act on. Pillow's
decompression-bomb limit is enforced (an oversized image is refused before it is decoded), EXIF
orientation is applied, and grayscale, palette, alpha, CMYK and 16-bit images become 8-bit RGB.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..errors import UserError

SUPPORTED_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)
# System clutter: Finder, Explorer and NAS metadata, and the folder zip tools add on macOS.
IGNORED_NAMES = frozenset({
    ".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r", "__macosx", "@eadir",
    "$recycle.bin", "system volume information",
})
TINY_SIDE = 16
# Text that betrays a file that is not an image at all, whatever its extension says.
_NOT_IMAGES = ((b"%PDF", "a PDF document"), (b"<svg", "an SVG drawing"),
               (b"<?xml", "an XML file"), (b"PK\x03\x04", "a zip archive"))

ImageFile.LOAD_TRUNCATED_IMAGES = False
# `open_image` refuses every image over the limit itself; Pillow's own warning (between 1x and
# 2x the limit) would only repeat that on stderr.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def max_pixels() -> int:
    """Pillow's decompression-bomb limit, read at call time so a changed limit applies."""
    return Image.MAX_IMAGE_PIXELS or 89_478_485


def bomb_reason(size: tuple[int, int] | None = None) -> str:
    shown = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels, " if size else ""
    return (f"too many pixels ({shown}over the {max_pixels():,} limit): refused as a possible "
            "decompression bomb")


class ImageError(UserError):
    """A file that cannot be used as an image, with the reason why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


def is_ignored(name: str) -> bool:
    """Hidden and system files (".DS_Store", "Thumbs.db", "._name") are skipped silently."""
    return name.startswith(".") or name.lower() in IGNORED_NAMES


def is_supported(name: str) -> bool:
    return Path(name).suffix.lower() in SUPPORTED_EXTENSIONS


def unsupported_reason(path: str | os.PathLike[str]) -> str:
    return f"unsupported file type {Path(path).suffix or '(no extension)'}"


def check_file(path: str | os.PathLike[str]) -> None:
    """Raise `ImageError` unless `path` is a non-empty regular file (a pipe would block)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ImageError(path, _os_reason(exc, path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageError(path, "is a folder, not an image")
    if not stat.S_ISREG(info.st_mode):
        raise ImageError(path, "not a regular file (a pipe, socket or device)")
    if info.st_size == 0:
        raise ImageError(path, "empty file (0 bytes)")


def _os_reason(exc: OSError, path: str | os.PathLike[str]) -> str:
    if isinstance(exc, PermissionError):
        return "no permission to read the file"
    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            return "broken symbolic link (its target is missing)"
        return "file not found (moved or deleted)"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the link points back to itself)"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not an image"
    return f"cannot be read: {exc.strerror or exc}"


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open `path` lazily (header only), refusing empty, unreadable and oversized files."""
    check_file(path)
    return _opened(path, path)


def _opened(source: str | os.PathLike[str] | io.BytesIO, path: str | os.PathLike[str],
            head: bytes | None = None) -> Image.Image:
    """Pillow's lazy image of `source` (a file or bytes); errors name `path`."""
    try:
        image = Image.open(source)
    except Image.DecompressionBombError:
        raise ImageError(path, bomb_reason()) from None
    except UnidentifiedImageError:
        raise ImageError(path, _head_reason(_head(path) if head is None else head)) from None
    except OSError as exc:
        if isinstance(source, io.BytesIO):  # in memory nothing fails to read: bad data
            raise ImageError(path, f"truncated or corrupt image data ({_describe(exc)})") \
                from None
        raise ImageError(path, _os_reason(exc, path)) from None
    except Exception as exc:  # noqa: BLE001 - a malformed header can raise anything
        raise ImageError(path, f"damaged image header ({_describe(exc)})") from None
    if image.size[0] * image.size[1] > max_pixels():
        image.close()
        raise ImageError(path, bomb_reason(image.size))
    return image


def _head(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(512)
    except OSError:
        return b""


def _head_reason(head: bytes) -> str:
    """Why bytes Pillow cannot identify are no image, from their first 512 bytes."""
    head = head[:512]
    for magic, what in _NOT_IMAGES:
        if head.lstrip().startswith(magic):
            return f"not an image: {what} with an image extension"
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "not an image: a text file with an image extension"
    return "not an image Pillow can read (unknown format or corrupt)"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def decode(path: str | os.PathLike[str], min_side: int | None = None) -> Image.Image:
    """Decode the first frame of `path` to an 8-bit RGB image, upright.

    With `min_side`, large JPEGs decode at reduced scale (draft mode) while keeping the shorter
    side at least `min_side` pixels, which is much faster for photographs.
    """
    return _decoded(open_image(path), path, min_side)


def decode_bytes(data: bytes, name: str = "upload", min_side: int | None = None) -> Image.Image:
    """`decode` for an image held in memory (an upload): the same checks, the same pixels;
    errors name `name`."""
    if not data:
        raise ImageError(name, "empty file (0 bytes)")
    return _decoded(_opened(io.BytesIO(data), name, head=data[:512]), name, min_side)


def _decoded(image: Image.Image, path: str | os.PathLike[str],
             min_side: int | None) -> Image.Image:
    try:
        with image:
            if min_side and image.format == "JPEG":
                image.draft("RGB", _draft_box(image.size, min_side))
            image.load()
            return to_rgb(_upright(image))
    except Image.DecompressionBombError:
        raise ImageError(path, bomb_reason()) from None
    except OSError as exc:
        if exc.filename is not None:  # the file itself went away or became unreadable
            raise ImageError(path, _os_reason(exc, path)) from None
        raise ImageError(path, f"truncated or corrupt image data ({_describe(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - corrupt data makes decoders raise anything
        raise ImageError(path, f"corrupt image data ({_describe(exc)})") from None


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; damaged EXIF data leaves the pixels as stored."""
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - the pixels are fine, only the metadata is not
        return image


def why_unusable(path: str | os.PathLike[str]) -> str | None:
    """The reason `path` cannot be decoded now, or None when it can."""
    try:
        decode(path, min_side=TINY_SIDE)
    except ImageError as exc:
        return exc.reason
    return None


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
    import numpy as np  # here: numpy is not needed to open the window

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
    """An RGB preview whose longer side is about `size` (raises `ImageError`). Small images are
    enlarged so they fill their tile: tiny ones by whole pixels, so they stay sharp."""
    image = decode(path, min_side=size)
    image.thumbnail((size, size), Image.Resampling.BILINEAR)
    return enlarge(image, size)


def enlarge(image: Image.Image, size: int) -> Image.Image:
    """`image` scaled up towards `size` on its longer side: nearest-neighbour by a whole factor
    when it is at most half that size (a 28 px digit becomes crisp 4x4 blocks), smoothly when
    it is only a little smaller; an image already `size` is returned as it is."""
    longest = max(image.size)
    if longest >= size:
        return image
    factor = size // longest
    if factor >= 2:
        new = (image.width * factor, image.height * factor)
        return image.resize(new, Image.Resampling.NEAREST)
    scale = size / longest
    new = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(new, Image.Resampling.BICUBIC)
