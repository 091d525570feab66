"""A folder of real-world trouble, generated at test time.

`build(root)` writes two usable classes (`cats`: circles in every supported format and mode,
`dogs`: squares), an empty class, a class with a single image, and next to them every kind of
file the engine must survive: empty, truncated, mislabelled, unsupported, oversized, hidden,
looping links, strange names. The returned `Corpus` says what each file is and which words the
engine's reason for a problem file must contain.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from imagegen import shape_image

SIZE = 48
LATIN1_NAME = b"caf\xe9 latin-1.png"  # not valid UTF-8: such names exist on old shares


@dataclass
class Corpus:
    root: Path
    good: dict[str, list[Path]] = field(default_factory=dict)  # class -> usable files
    bad: dict[Path, str] = field(default_factory=dict)  # unusable file -> words of the reason
    warned: dict[Path, str] = field(default_factory=dict)  # used, with a warning
    ignored: list[Path] = field(default_factory=list)  # never mentioned anywhere
    locked: Path | None = None  # a readable image the tests make unreadable
    rotated: Path | None = None  # stored sideways, red marker top-left once upright

    def usable(self) -> list[Path]:
        return [p for paths in self.good.values() for p in paths]


def circle(rng: random.Random, size: int = SIZE) -> Image.Image:
    return shape_image("circle", size, rng)


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` pixels and holds none (cheap bomb stand-in)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


def upright_marked() -> Image.Image:
    """A wide gray image with a red block in its top-left corner."""
    image = Image.new("RGB", (SIZE * 2, SIZE), (128, 128, 128))
    image.paste((255, 0, 0), (0, 0, SIZE // 2, SIZE // 2))
    return image


def save_rotated(path: Path) -> None:
    """Store `upright_marked()` turned sideways with EXIF orientation 6 ("rotate 90 CW")."""
    stored = upright_marked().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path.write_bytes(jpeg_bytes(stored, exif=exif.tobytes()))


def _formats(folder: Path, rng: random.Random) -> list[Path]:
    """The same kind of picture in every supported container and pixel mode."""
    out = []

    def save(name: str, image: Image.Image, **options) -> None:
        image.save(folder / name, **options)
        out.append(folder / name)

    save("plain.png", circle(rng))
    save("photo.jpg", circle(rng), quality=90)
    save("bitmap.bmp", circle(rng))
    save("still.gif", circle(rng).convert("P"))
    frames = [circle(rng).convert("P") for _ in range(3)]
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=50)
    save("scan.tif", circle(rng))
    pages = [circle(rng) for _ in range(2)]
    save("pages.tiff", pages[0], save_all=True, append_images=pages[1:])
    save("web.webp", circle(rng))
    ramp = np.linspace(0, 65535, SIZE).round().astype(np.uint16)  # dark to light
    save("gray16.png", Image.fromarray(np.tile(ramp, (SIZE, 1))))
    save("palette.png", circle(rng).convert("P", palette=Image.Palette.ADAPTIVE))
    keyed = circle(rng).convert("P")
    save("palette_transparent.png", keyed, transparency=0)
    with_alpha = circle(rng).convert("RGBA")
    with_alpha.putalpha(200)
    save("alpha.png", with_alpha)
    save("gray_alpha.png", circle(rng).convert("LA"))
    save("cmyk.jpg", circle(rng).convert("CMYK"), quality=90)
    for name in ("with space.png", "café ünïcode.png", "emoji 🐱.png", "Upper.JPEG"):
        save(name, circle(rng), **({"format": "JPEG"} if name.endswith("JPEG") else {}))
    return out


def _add_bad(corpus: Corpus, folder: Path, rng: random.Random) -> None:
    bad = corpus.bad

    def put(name: str, data: bytes, reason: str) -> None:
        (folder / name).write_bytes(data)
        bad[folder / name] = reason

    put("zero.jpg", b"", "empty file")
    whole = jpeg_bytes(circle(rng, 96))
    put("truncated.jpg", whole[: len(whole) // 2], "truncated")
    put("letter.jpg", b"Dear diary,\nthis is not a photo.\n", "text file")
    put("report.png", b"%PDF-1.4\n%binary\n", "PDF")
    put("huge.png", png_header(100_000, 100_000), "decompression bomb")
    put("big.png", png_header(10_000, 10_000), "decompression bomb")
    put("notes.txt", b"shopping list", "unsupported file type .txt")
    put("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "unsupported file type .svg")
    put("iphone.heic", b"\x00\x00\x00\x18ftypheic", "unsupported file type .heic")
    put("no_extension", b"\x00\x01", "unsupported file type (no extension)")


def _add_links(corpus: Corpus, folder: Path) -> None:
    os.symlink("loop_b.jpg", folder / "loop_a.jpg")
    os.symlink("loop_a.jpg", folder / "loop_b.jpg")
    os.symlink("missing.jpg", folder / "gone.jpg")
    os.symlink("..", folder / "up")  # would pull every other class into this one
    os.symlink(".", folder / "self")
    for name in ("loop_a.jpg", "loop_b.jpg", "up", "self"):
        corpus.bad[folder / name] = "symbolic link loop"
    corpus.bad[folder / "gone.jpg"] = "broken symbolic link"


def _add_ignored(corpus: Corpus, folder: Path) -> None:
    for name, data in ((".DS_Store", b"\x00\x00\x00\x01Bud1"), ("Thumbs.db", b"\xd0\xcf\x11"),
                       ("desktop.ini", b"[.ShellClassInfo]"), ("._plain.png", b"\x00\x05\x16")):
        (folder / name).write_bytes(data)
        corpus.ignored.append(folder / name)
    hidden = folder / ".thumbnails"
    hidden.mkdir()
    circle(random.Random(9)).save(hidden / "cached.png")
    corpus.ignored.append(hidden / "cached.png")


def _add_latin1_name(corpus: Corpus, folder: Path, image: Image.Image) -> None:
    name = os.fsdecode(os.path.join(os.fsencode(folder), LATIN1_NAME))
    try:
        image.save(name, format="PNG")
    except (OSError, UnicodeError):  # file systems that only take UTF-8 names (macOS)
        return
    corpus.good["cats"].append(Path(name))


def build(root: Path, seed: int = 0, latin1_name: bool = True) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus(root)
    cats, dogs, empty, single = (root / n for n in ("cats", "dogs", "empty", "single"))
    for folder in (cats, dogs, empty, single):
        folder.mkdir(parents=True)
    corpus.good["cats"] = _formats(cats, rng)
    save_rotated(cats / "rotated.jpg")
    corpus.rotated = cats / "rotated.jpg"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(cats / "one_pixel.png")
    corpus.warned[cats / "one_pixel.png"] = "very small image (1x1"
    circle(rng).save(cats / "locked.png")
    corpus.locked = cats / "locked.png"
    corpus.bad[corpus.locked] = "no permission"
    corpus.good["cats"] += [corpus.rotated, cats / "one_pixel.png"]
    if latin1_name:
        _add_latin1_name(corpus, cats, circle(rng))
    _add_bad(corpus, cats, rng)
    _add_links(corpus, cats)
    _add_ignored(corpus, cats)
    _add_ignored(corpus, root)
    macosx = root / "__MACOSX" / "cats"
    macosx.mkdir(parents=True)
    (macosx / "._plain.png").write_bytes(b"\x00\x05\x16\x07")
    corpus.ignored.append(macosx / "._plain.png")
    corpus.good["dogs"] = []
    for i in range(10):
        shape_image("square", SIZE, rng).save(dogs / f"dog_{i}.png")
        corpus.good["dogs"].append(dogs / f"dog_{i}.png")
    twin = dogs / "also_a_cat.png"
    twin.write_bytes((cats / "plain.png").read_bytes())
    corpus.good["dogs"].append(twin)
    for path in (twin, cats / "plain.png"):
        corpus.warned[path] = "likely a labelling error"
    shape_image("triangle", SIZE, rng).save(single / "lonely.png")
    corpus.good["single"] = [single / "lonely.png"]
    corpus.warned[single] = "single image"
    corpus.bad[empty] = "no usable images"
    (root / "README.txt").write_text("where these photos came from")
    corpus.warned[root / "README.txt"] = "outside any class folder"
    return corpus


def one_class(root: Path, count: int = 4) -> Path:
    (root / "only").mkdir(parents=True)
    rng = random.Random(1)
    for i in range(count):
        circle(rng).save(root / "only" / f"{i}.png")
    return root
