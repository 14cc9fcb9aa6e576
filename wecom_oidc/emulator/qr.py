"""A small QR Code encoder (ISO/IEC 18004): byte mode, levels L and M, versions 1-40,
all eight masks scored by the standard penalty rules; SVG output. Standard library only.

`encode(text, level) -> matrix` (rows of bools, True = dark), `qr_svg(text) -> str`.
"""

from __future__ import annotations

# Per version 1..40 (index 0 unused): EC codewords per block and number of blocks.
_ECC_PER_BLOCK = {
    "L": (0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
          28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "M": (0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
          26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28),
}
_BLOCKS = {
    "L": (0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12,
          12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25),
    "M": (0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20,
          21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49),
}
_FORMAT_LEVEL = {"L": 1, "M": 0}
_MASKS = (
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
)

Matrix = list[list[bool]]


def _raw_modules(ver: int) -> int:
    """Modules left for data + EC after the function patterns."""
    n = (16 * ver + 128) * ver + 64
    if ver >= 2:
        align = ver // 7 + 2
        n -= (25 * align - 10) * align - 55
        if ver >= 7:
            n -= 36
    return n


def _data_codewords(ver: int, level: str) -> int:
    return _raw_modules(ver) // 8 - _ECC_PER_BLOCK[level][ver] * _BLOCKS[level][ver]


def _gf_mul(a: int, b: int) -> int:
    """Multiply in GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1."""
    z = 0
    for i in range(7, -1, -1):
        z = (z << 1) ^ ((z >> 7) * 0x11D)
        z ^= ((b >> i) & 1) * a
    return z


def _rs_divisor(degree: int) -> list[int]:
    result = [0] * (degree - 1) + [1]
    root = 1
    for _ in range(degree):
        for j in range(degree):
            result[j] = _gf_mul(result[j], root)
            if j + 1 < degree:
                result[j] ^= result[j + 1]
        root = _gf_mul(root, 0x02)
    return result


def _rs_remainder(data: list[int], divisor: list[int]) -> list[int]:
    result = [0] * len(divisor)
    for b in data:
        factor = b ^ result.pop(0)
        result.append(0)
        for i, coef in enumerate(divisor):
            result[i] ^= _gf_mul(coef, factor)
    return result


def _codewords(data: bytes, level: str) -> tuple[int, list[int]]:
    """Pick the smallest version; return it with the interleaved data + EC codewords."""
    for ver in range(1, 41):
        count_bits = 8 if ver <= 9 else 16
        capacity = _data_codewords(ver, level) * 8
        if 4 + count_bits + 8 * len(data) <= capacity:
            break
    else:
        raise ValueError(f"{len(data)} bytes do not fit in a version 40-{level} QR code")
    bits = [0, 1, 0, 0] + [(len(data) >> i) & 1 for i in range(count_bits - 1, -1, -1)]
    for byte in data:
        bits += [(byte >> i) & 1 for i in range(7, -1, -1)]
    bits += [0] * min(4, capacity - len(bits))  # terminator
    bits += [0] * (-len(bits) % 8)
    words = [int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8)]
    pad = 0
    while len(words) < capacity // 8:
        words.append((0xEC, 0x11)[pad])
        pad ^= 1
    return ver, _interleave(words, ver, level)


def _interleave(words: list[int], ver: int, level: str) -> list[int]:
    nblocks, ecc_len = _BLOCKS[level][ver], _ECC_PER_BLOCK[level][ver]
    raw = _raw_modules(ver) // 8
    short_len = raw // nblocks - ecc_len  # data words in a short block
    nshort = nblocks - raw % nblocks
    divisor = _rs_divisor(ecc_len)
    blocks, k = [], 0
    for i in range(nblocks):
        size = short_len + (0 if i < nshort else 1)
        blocks.append(words[k:k + size])
        k += size
    out = [b[i] for i in range(short_len + 1) for b in blocks if i < len(b)]
    eccs = [_rs_remainder(b, divisor) for b in blocks]
    return out + [e[i] for i in range(ecc_len) for e in eccs]


class _Grid:
    def __init__(self, ver: int):
        self.ver, self.size = ver, ver * 4 + 17
        self.dark = [[False] * self.size for _ in range(self.size)]
        self.func = [[False] * self.size for _ in range(self.size)]

    def set(self, x: int, y: int, dark: bool) -> None:
        self.dark[y][x] = dark
        self.func[y][x] = True

    def draw_function_patterns(self) -> None:
        size = self.size
        for i in range(size):
            self.set(6, i, i % 2 == 0)
            self.set(i, 6, i % 2 == 0)
        for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    x, y = cx + dx, cy + dy
                    if 0 <= x < size and 0 <= y < size:
                        self.set(x, y, max(abs(dx), abs(dy)) not in (2, 4))
        pos = self.alignment_positions()
        last = len(pos) - 1
        for i, cx in enumerate(pos):
            for j, cy in enumerate(pos):
                if (i, j) in ((0, 0), (0, last), (last, 0)):
                    continue  # the finder patterns are there
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        self.set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)
        self.draw_format(0)  # reserve the areas; overwritten once the mask is chosen
        self.draw_version()

    def alignment_positions(self) -> list[int]:
        if self.ver == 1:
            return []
        n = self.ver // 7 + 2
        step = (self.ver * 8 + n * 3 + 5) // (n * 4 - 4) * 2
        return [6] + sorted(self.size - 7 - i * step for i in range(n - 1))

    def draw_format(self, mask: int, level: str = "M", into: Matrix | None = None) -> None:
        """The 15 format bits, twice; into another matrix when choosing a mask."""
        data = _FORMAT_LEVEL[level] << 3 | mask
        rem = data
        for _ in range(10):
            rem = (rem << 1) ^ ((rem >> 9) * 0x537)
        bits = (data << 10 | rem) ^ 0x5412
        size = self.size
        spots = [(8, i) for i in range(6)] + [(8, 7), (8, 8), (7, 8)]
        spots += [(14 - i, 8) for i in range(9, 15)]
        spots += [(size - 1 - i, 8) for i in range(8)] + [(8, size - 15 + i) for i in range(8, 15)]
        for n, (x, y) in enumerate(spots):
            self._put(x, y, (bits >> (n % 15)) & 1 == 1, into)
        self._put(8, size - 8, True, into)  # the dark module

    def _put(self, x: int, y: int, dark: bool, into: Matrix | None) -> None:
        if into is None:
            self.set(x, y, dark)
        else:
            into[y][x] = dark

    def draw_version(self) -> None:
        if self.ver < 7:
            return
        rem = self.ver
        for _ in range(12):
            rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
        bits = self.ver << 12 | rem
        for i in range(18):
            dark = (bits >> i) & 1 == 1
            a, b = self.size - 11 + i % 3, i // 3
            self.set(a, b, dark)
            self.set(b, a, dark)

    def place_data(self, words: list[int]) -> None:
        """The zigzag: two-module columns from the right, alternating up and down."""
        i, total, size = 0, len(words) * 8, self.size
        right = size - 1
        while right >= 1:
            if right == 6:
                right = 5  # skip the vertical timing pattern
            upward = (right + 1) & 2 == 0
            for vert in range(size):
                y = size - 1 - vert if upward else vert
                for x in (right, right - 1):
                    if not self.func[y][x] and i < total:
                        self.dark[y][x] = (words[i >> 3] >> (7 - (i & 7))) & 1 == 1
                        i += 1
            right -= 2

    def masked(self, mask: int, level: str) -> Matrix:
        out = [row[:] for row in self.dark]
        rule = _MASKS[mask]
        for y in range(self.size):
            for x in range(self.size):
                if not self.func[y][x] and rule(x, y):
                    out[y][x] = not out[y][x]
        self.draw_format(mask, level, into=out)
        return out


def _penalty(m: Matrix) -> int:
    """The four penalty rules of ISO/IEC 18004 §7.8.3."""
    size, score = len(m), 0
    lines = m + [list(col) for col in zip(*m, strict=True)]
    finder = ([True, False, True, True, True, False, True, False, False, False, False],
              [False, False, False, False, True, False, True, True, True, False, True])
    for line in lines:
        run, prev = 0, None
        for cell in line:
            run = run + 1 if cell == prev else 1
            prev = cell
            if run == 5:
                score += 3
            elif run > 5:
                score += 1
        for i in range(size - 10):
            if line[i:i + 11] in finder:
                score += 40
    for y in range(size - 1):
        for x in range(size - 1):
            if m[y][x] == m[y][x + 1] == m[y + 1][x] == m[y + 1][x + 1]:
                score += 3
    dark = sum(map(sum, m))
    total = size * size
    score += (abs(dark * 20 - total * 10) + total - 1) // total * 10 - 10
    return score


def encode(text: str | bytes, level: str = "M") -> Matrix:
    """The module matrix (rows, True = dark) of the smallest symbol that holds `text`."""
    if level not in _ECC_PER_BLOCK:
        raise ValueError("level must be 'L' or 'M'")
    data = text.encode("utf-8") if isinstance(text, str) else text
    ver, words = _codewords(data, level)
    grid = _Grid(ver)
    grid.draw_function_patterns()
    grid.place_data(words)
    candidates = [grid.masked(mask, level) for mask in range(8)]
    return min(candidates, key=_penalty)


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
