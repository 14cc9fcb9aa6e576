"""The QR code on the emulator's web login page, drawn by segno (ISO/IEC 18004).

`encode(text, level) -> matrix` (rows of bools, True = dark), `qr_svg(text) -> str`: an
inline SVG whose dark runs are one path, the way a phone camera sees WeCom's own code.
"""

from __future__ import annotations

import segno

Matrix = list[list[bool]]


def encode(text: str | bytes, level: str = "M") -> Matrix:
    """The smallest QR code (versions 1-40) holding `text` as UTF-8 bytes at error
    correction `level` ("L", "M", "Q" or "H"); raises ValueError when it does not fit."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    # Byte mode, and exactly the level asked for: a scanner then sees the URL as sent.
    code = segno.make(data, error=level.lower(), mode="byte", micro=False, boost_error=False)
    return [[bool(module) for module in row] for row in code.matrix]


def to_svg(matrix: Matrix, border: int = 4) -> str:
    """An SVG with one path of dark runs; `border` light modules of quiet zone around it."""
    n = len(matrix) + 2 * border
    parts = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                parts.append(f"M{start + border},{y + border}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" '
            f'shape-rendering="crispEdges" role="img" aria-label="QR code">'
            f'<rect width="{n}" height="{n}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(parts)}"/></svg>')


def qr_svg(text: str, level: str = "M") -> str:
    return to_svg(encode(text, level))
