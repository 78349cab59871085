"""Markdown tables for generated pages (leaderboards, benchmark tables)."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] | None = None) -> list[str]:
    """Lines of a GitHub table; ``align`` holds one ``---``/``---:`` marker per column."""
    align = align or ["---"] * len(header)
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(cells) + " |" for cells in rows),
    ]
