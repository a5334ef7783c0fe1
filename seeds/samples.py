"""Sample files made on the spot (no personal data): drawn images and a one-page PDF, for the demo and the tests."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw


def image(fmt: str = "PNG", size: tuple[int, int] = (320, 200), color: tuple[int, int, int] = (40, 110, 180),
          text: str = "SAMPLE", exif_gps: bool = False) -> bytes:
    """A card-like picture; with `exif_gps` a JPEG carries a camera model and GPS position (to prove they go)."""
    img = Image.new("RGB", size, (245, 245, 240))
    d = ImageDraw.Draw(img)
    d.rectangle([8, 8, size[0] - 8, size[1] - 8], outline=color, width=4)
    d.rectangle([20, 24, 90, 110], fill=color)
    d.text((110, 30), text, fill=(20, 20, 20))
    for i in range(4):
        d.line([110, 60 + 16 * i, size[0] - 30, 60 + 16 * i], fill=(160, 160, 160), width=2)
    out = io.BytesIO()
    if exif_gps:
        exif = Image.Exif()
        exif[0x0110] = "DemoCam 1"               # Model
        exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}  # GPS
        img.save(out, fmt, exif=exif)
    else:
        img.save(out, fmt)
    return out.getvalue()


def pdf(text: str = "SAMPLE SCAN") -> bytes:
    """A minimal, valid one-page PDF with a line of text (what a desk scanner sends, much smaller)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()
