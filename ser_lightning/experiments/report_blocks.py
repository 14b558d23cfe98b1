"""A report as plain blocks (headings, text, tables, figures, preformatted text), written as Markdown here and as
HTML by :mod:`.report_html`, so the two files always say the same."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .figures import Drawn


@dataclass
class Link:
    """A link to a file beside the report (a log, a config), relative to the report's folder."""

    text: str
    href: str


@dataclass
class Badge:
    """A word with a meaning of its own (a verdict, a run's state): coloured in HTML, bold in Markdown."""

    text: str
    kind: str


Cell = str | Link | Badge | list[Link]


@dataclass
class Heading:
    text: str
    anchor: str


@dataclass
class Text:
    """A paragraph, and links after it; ``kind`` ``warning`` or ``note`` sets it apart."""

    text: str
    kind: str = ""
    links: list[Link] = field(default_factory=list)


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell]]
    anchor: str = ""
    caption: str = ""


@dataclass
class Figure:
    drawn: Drawn


@dataclass
class Code:
    """Preformatted text (a JSON file the report does not know the shape of)."""

    text: str


@dataclass
class Details:
    """Preformatted text a reader opens when wanted (every run's command line)."""

    summary: str
    text: str


Block = Heading | Text | Table | Figure | Code | Details


@dataclass
class Document:
    title: str
    subtitle: str
    folder: Path
    blocks: list[Block] = field(default_factory=list)

    def relative(self, path: str | Path) -> str:
        """``path`` as a link from the report's folder (POSIX separators)."""
        return Path(os.path.relpath(Path(path).resolve(), self.folder.resolve())).as_posix()


def _md_cell(cell: Cell) -> str:
    if isinstance(cell, list):
        return " · ".join(_md_cell(link) for link in cell)
    if isinstance(cell, Link):
        return f"[{cell.text}]({cell.href.replace(' ', '%20')})"
    if isinstance(cell, Badge):
        return f"**{cell.text}**"
    return str(cell).replace("|", "\\|").replace("\n", " ")


def markdown(document: Document) -> str:
    """The document as Markdown; figures as links to their PNGs beside the report (and their PDF twins)."""
    lines = [f"# {document.title}", "", document.subtitle, ""]
    for block in document.blocks:
        if isinstance(block, Heading):
            lines += [f"## {block.text}", ""]
        elif isinstance(block, Text):
            text = " ".join([block.text, *(_md_cell(link) for link in block.links)])
            lines += [f"> {text}" if block.kind else text, ""]
        elif isinstance(block, Table):
            if block.caption:
                lines += [block.caption, ""]
            lines.append("| " + " | ".join(block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, Figure):
            png, pdf = document.relative(block.drawn.png), document.relative(block.drawn.pdf)
            lines += [f"![{block.drawn.name}]({png})", "", f"{block.drawn.caption} ([PDF]({pdf}))", ""]
        elif isinstance(block, Code):
            lines += ["```", block.text, "```", ""]
        elif isinstance(block, Details):
            lines += ["<details>", f"<summary>{block.summary}</summary>", "", "```", block.text, "```", "</details>", ""]
    return "\n".join(lines).rstrip() + "\n"
