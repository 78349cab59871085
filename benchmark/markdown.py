"""Markdown tables for generated pages (leaderboards, benchmark tables)."""

from __future__ import annotations

from collections.abc import Sequence

SHORT_HASH = 8  # characters of a fingerprint or config hash shown on generated pages


def short_hash(digest: str) -> str:
    """The prefix pages show: long enough to tell builds apart, short enough for a table cell."""
    return digest[:SHORT_HASH]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] | None = None) -> list[str]:
    """Lines of a GitHub table; ``align`` holds one ``---``/``---:`` marker per column."""
    align = align or ["---"] * len(header)
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(cells) + " |" for cells in rows),
    ]
