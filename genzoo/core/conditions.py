"""Conditioning vectors for `genzoo sample`: attribute names, class labels, Figure 7's grid.

Attribute names match a dataset's attribute names case-insensitively, with spaces or hyphens
standing for underscores (``black hair`` is CelebA's ``Black_Hair``). A set of names switches
those attributes on and every other one off.

Figure 7 of the paper (conditional ALI on CelebA): one fixed z; each row holds a set of
attributes, each column adds another set; the cell's y is the union of its row's and its
column's sets. ``FIGURE7_ROWS`` and ``FIGURE7_COLS`` are the paper's (rows I-IV: male,
attractive, young / male, attractive, older / female, attractive, young / female, attractive,
older — "older" and "female" are Young and Male off; columns (a) none, then (b)-(l)).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import torch

from genzoo.core.errors import GenzooError

FIGURE7_ROWS = ("male,attractive,young", "male,attractive", "attractive,young", "attractive")
FIGURE7_COLS = ("", "black_hair", "brown_hair", "blond_hair", "black_hair,wavy_hair",
                "blond_hair,bangs", "blond_hair,receding_hairline", "blond_hair,bald",
                "black_hair,smiling", "black_hair,smiling,mouth_slightly_open",
                "black_hair,smiling,mouth_slightly_open,eyeglasses",
                "black_hair,smiling,mouth_slightly_open,eyeglasses,wearing_hat")


def _key(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def attribute_indices(text: str, names: Sequence[str]) -> list[int]:
    """Indices into ``names`` of the comma-separated attribute names in ``text`` (may be
    empty); an unknown name is a one-line error listing close matches."""
    lookup = {_key(n): i for i, n in enumerate(names)}
    out = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        key = _key(raw)
        if key not in lookup:
            close = difflib.get_close_matches(key, list(lookup), n=3, cutoff=0.6)
            hint = (f"did you mean {', '.join(names[lookup[c]] for c in close)}?" if close
                    else f"attributes: {', '.join(names)}")
            raise GenzooError(f"unknown attribute {raw.strip()!r}; {hint}")
        out.append(lookup[key])
    return out


def attribute_vector(text: str, names: Sequence[str]) -> torch.Tensor:
    """(A,) 0/1 int64: the named attributes on, the rest off."""
    y = torch.zeros(len(names), dtype=torch.int64)
    y[attribute_indices(text, names)] = 1
    return y


def grid_attributes(rows: Sequence[str], cols: Sequence[str],
                    names: Sequence[str]) -> torch.Tensor:
    """(len(rows) * len(cols), A) 0/1 attribute vectors in row-major order: cell (i, j) has
    the attributes of rows[i] and of cols[j] on."""
    row_v = [attribute_vector(r, names) for r in rows]
    col_v = [attribute_vector(c, names) for c in cols]
    return torch.stack([torch.maximum(r, c) for r in row_v for c in col_v])


def parse_sets(text: str | None, default: Sequence[str]) -> list[str]:
    """``--rows``/``--cols``: attribute sets separated by ';' (each comma-separated)."""
    return list(default) if text is None else [s.strip() for s in text.split(";")]
