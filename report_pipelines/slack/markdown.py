"""Slack's mrkdwn, shown as the Markdown Dagster renders (the run-metadata preview, ``preview``).

mrkdwn is not Markdown: ``*bold*`` is bold in Slack but italic in Markdown, ``_italic_`` is
italic in both only by luck, links are ``<url|label>``, and a single newline is a line break in
Slack but nothing in Markdown. These functions translate a Block Kit message block by block.
"""

from __future__ import annotations

import re

_FENCE = "```"
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_LABELLED_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)>")
# Markdown would read these at the start of a line as a heading, a list or a quote.
_LINE_START = re.compile(r"^(#|>|\d+\.|[-+] )", re.MULTILINE)


def mrkdwn_to_markdown(text: str) -> str:
    """One mrkdwn text as Markdown: bold, italic, strike, links, line breaks; code kept as is."""
    parts = text.split(_FENCE)
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            # Inside a code block: Slack shows it verbatim, so does Markdown's fence.
            body = part if part.startswith("\n") else "\n" + part
            out.append(f"{_FENCE}{body.rstrip(chr(10))}\n{_FENCE}")
        else:
            out.append(_inline(part))
    return "\n".join(piece for piece in out if piece.strip())


def _inline(text: str) -> str:
    text = _LINE_START.sub(r"\\\1", text)
    # Bold first: the italic rewrite produces single asterisks, which would read as bold.
    text = _BOLD.sub(r"**\1**", text)
    text = _ITALIC.sub(r"*\1*", text)
    text = _STRIKE.sub(r"~~\1~~", text)
    text = _LABELLED_LINK.sub(r"[\2](\1)", text)
    text = _BARE_LINK.sub(r"<\1>", text)
    # A lone newline is a line break in Slack; Markdown needs two trailing spaces for one.
    lines = [line.rstrip() for line in text.strip("\n").split("\n")]
    return "  \n".join(lines)


def blocks_to_markdown(blocks: list[dict]) -> str:
    """A readable Markdown rendering of a Block Kit message, for the run's metadata panel."""
    paragraphs: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            paragraphs.append(f"## {block['text']['text']}")
        elif kind == "section":
            if "text" in block:
                paragraphs.append(mrkdwn_to_markdown(block["text"]["text"]))
            # Fields sit side by side in Slack; here each is its own paragraph.
            paragraphs.extend(mrkdwn_to_markdown(field["text"]) for field in block.get("fields", []))
        elif kind == "context":
            paragraphs.append(
                " · ".join(mrkdwn_to_markdown(element.get("text", "")) for element in block.get("elements", []))
            )
        elif kind == "divider":
            paragraphs.append("---")
    return "\n\n".join(p for p in paragraphs if p) + "\n"
