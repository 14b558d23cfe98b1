"""The report as one self-contained HTML file: styles inline, figures inline as base64 PNGs, no scripts, nothing
fetched; only the links to logs and configs point at files beside it."""

from __future__ import annotations

import base64
from html import escape

from .report_blocks import Badge, Block, Cell, Code, Details, Document, Figure, Heading, Link, Table, Text

STYLE = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink);
       max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.7em; margin: 0 0 4px; } h2 { font-size: 1.3em; margin: 36px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.subtitle { color: var(--muted); margin: 0 0 8px; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; } nav { margin: 10px 0 4px; }
a { color: #0969da; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 8px 12px; }
.note { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; color: var(--muted); }
table { border-collapse: collapse; margin: 6px 0 18px; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
caption { caption-side: top; text-align: left; color: var(--muted); padding-bottom: 4px; }
.scroll { overflow-x: auto; } .files { white-space: nowrap; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(500px, 1fr)); gap: 28px 36px; }
figure { margin: 0; } figure img { width: 100%; max-width: 620px; height: auto; display: block; border: 1px solid var(--soft); }
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; max-width: 620px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-weight: 600; font-size: 12.5px; white-space: nowrap; }
.holds, .done { background: #dafbe1; color: #116329; } .does-not-hold, .failed { background: #ffebe9; color: #a40e26; }
.inconclusive, .running, .queued { background: #fff8c5; color: #7d4e00; } .pending { background: var(--soft); color: var(--muted); }
summary { cursor: pointer; color: #0969da; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto; font-size: 12.5px; }
"""


def _cell(cell: Cell) -> str:
    if isinstance(cell, list):
        return '<span class="files">' + " · ".join(_cell(link) for link in cell) + "</span>"
    if isinstance(cell, Link):
        return f'<a href="{escape(cell.href)}">{escape(cell.text)}</a>'
    if isinstance(cell, Badge):
        return f'<span class="badge {escape(cell.kind)}">{escape(cell.text)}</span>'
    return escape(str(cell))


def _table(table: Table) -> str:
    anchor = f' id="{escape(table.anchor)}"' if table.anchor else ""
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(cell)}</td>" for cell in row) + "</tr>" for row in table.rows)
    return f'<div class="scroll"><table{anchor}>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _figure(block: Figure, document: Document) -> str:
    drawn = block.drawn
    data = base64.b64encode(drawn.png.read_bytes()).decode("ascii")
    pdf = escape(document.relative(drawn.pdf))
    return (
        f'<figure id="figure-{escape(drawn.name)}"><img src="data:image/png;base64,{data}" alt="{escape(drawn.caption)}">'
        f'<figcaption>{escape(drawn.caption)} <a href="{pdf}">PDF</a></figcaption></figure>'
    )


def _blocks(blocks: list[Block], document: Document) -> str:
    parts: list[str] = []
    figures: list[str] = []
    for block in [*blocks, None]:
        if isinstance(block, Figure):
            figures.append(_figure(block, document))
            continue
        if figures:  # consecutive figures share a grid: two side by side on a wide screen
            parts.append(f'<div class="figures">{"".join(figures)}</div>')
            figures = []
        if isinstance(block, Heading):
            parts.append(f'<h2 id="{escape(block.anchor)}">{escape(block.text)}</h2>')
        elif isinstance(block, Text):
            text = " ".join([escape(block.text), *(_cell(link) for link in block.links)])
            parts.append(f'<p class="{escape(block.kind)}">{text}</p>' if block.kind else f"<p>{text}</p>")
        elif isinstance(block, Table):
            parts.append(_table(block))
        elif isinstance(block, Code):
            parts.append(f"<pre>{escape(block.text)}</pre>")
        elif isinstance(block, Details):
            parts.append(f"<details><summary>{escape(block.summary)}</summary><pre>{escape(block.text)}</pre></details>")
    return "\n".join(parts)


def html(document: Document) -> str:
    """The document as one HTML page."""
    nav = " ".join(f'<a href="#{escape(b.anchor)}">{escape(b.text)}</a>' for b in document.blocks if isinstance(b, Heading))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(document.title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{escape(document.title)}</h1>
<p class="subtitle">{escape(document.subtitle)}</p>
<nav>{nav}</nav>
{_blocks(document.blocks, document)}
</body>
</html>
"""
