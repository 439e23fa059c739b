"""Slack's Block Kit limits, and :func:`validate_message`, which checks a payload against them.

The report message is built from slack_sdk's model classes, whose ``to_dict()`` raises
``SlackObjectFormationError`` (as of slack_sdk 3.48) when:

- a header has no text, or its text is over 150 characters (``HeaderBlock.text_max_length``);
- a section has neither text nor fields, its text is over 3000 characters
  (``SectionBlock.text_max_length``) or it has more than 10 fields (``fields_max_length``);
- a context block has more than 10 elements (``ContextBlock.elements_max_length``);
- a ``block_id`` is over 255 characters (``Block.block_id_max_length``).

It does not check, and :func:`validate_message` does:

- the 50 blocks of a message: slack_sdk has no model of the whole message, a list of blocks is
  posted as it is;
- a section field over 2000 characters, or a context text over 3000: only the block's own text
  is measured, never the text objects inside ``fields`` or ``elements``;
- empty text: ``to_dict()`` leaves out empty values, so ``text=""`` yields a text object with no
  text and an empty ``elements`` list yields a context block with no elements, both of which
  Slack refuses; blank text (spaces only) goes through unchanged;
- the text type: a header accepts a ``mrkdwn`` object although Slack takes only ``plain_text``;
- unknown block types and unexpected keys, and the fallback ``text``, which is not a block.

slack_sdk does not escape ``&``, ``<`` and ``>`` either; the builder does that with
:mod:`report_pipelines.formatting`.

:func:`validate_message` also repeats the checks slack_sdk makes, because it judges the payload
rather than its builder: thread replies are written as plain dicts that never pass through the
models, and it reports every problem at once instead of raising at the first. Delivery runs it
before posting, so a layout bug fails loudly here rather than as an opaque ``invalid_blocks``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_SECTION_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
# Slack caps any text object at 3000 characters; a context element is one.
MAX_CONTEXT_TEXT_CHARS = 3000
MAX_BLOCK_ID_CHARS = 255
# Slack allows far longer notification text, but it is only a preview: past this nobody reads it.
MAX_FALLBACK_CHARS = 3000
# Actions blocks: at most 25 elements; a button's text 75 characters, its value 2,000, its url 3,000;
# a select's options at most 100, each option's text 75 and value 150.
MAX_ACTION_ELEMENTS = 25
MAX_BUTTON_TEXT_CHARS = 75
MAX_BUTTON_VALUE_CHARS = 2000
MAX_BUTTON_URL_CHARS = 3000
MAX_OPTIONS = 100
MAX_OPTION_VALUE_CHARS = 150

_TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
# slack_sdk writes ``emoji`` and ``verbatim`` when they are set, and Slack accepts both.
_TEXT_KEYS = {
    "plain_text": frozenset({"type", "text", "emoji"}),
    "mrkdwn": frozenset({"type", "text", "verbatim"}),
}


def validate_message(blocks: list[dict], text: str) -> list[str]:
    """Every way ``(blocks, text)`` breaks Slack's limits, one line each; empty when valid.

    Checks the finished payload only, so it catches mistakes in whatever built it. Block types
    other than header, section, context, divider and actions are reported: we do not render them, and a
    check that passes what it cannot inspect would give false comfort.
    """
    problems: list[str] = []
    if not isinstance(text, str) or not text.strip():
        problems.append("text: the fallback text is empty")
    elif len(text) > MAX_FALLBACK_CHARS:
        problems.append(f"text: {len(text)} characters, over the {MAX_FALLBACK_CHARS} limit")

    if not isinstance(blocks, list):
        return [*problems, "blocks: must be a list"]
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"blocks: {len(blocks)} blocks, over the {MAX_BLOCKS} limit")
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(block, dict):
            problems.append(f"{where}: not an object")
            continue
        kind = block.get("type")
        check = _BLOCK_CHECKS.get(kind)
        if check is None:
            problems.append(f"{where}: unknown block type {kind!r}")
            continue
        where = f"{where} ({kind})"
        block_id = block.get("block_id")
        too_long = isinstance(block_id, str) and len(block_id) > MAX_BLOCK_ID_CHARS
        if block_id is not None and (not isinstance(block_id, str) or too_long):
            problems.append(f"{where}.block_id: must be a string of at most {MAX_BLOCK_ID_CHARS}")
        problems.extend(check(where, block))
    return problems


def _check_header(where: str, block: dict) -> list[str]:
    return _check_text(f"{where}.text", block.get("text"), MAX_HEADER_CHARS, {"plain_text"})


def _check_section(where: str, block: dict) -> list[str]:
    text, fields = block.get("text"), block.get("fields")
    if text is None and fields is None:
        return [f"{where}: needs text or fields"]
    problems = []
    if text is not None:
        problems += _check_text(f"{where}.text", text, MAX_SECTION_CHARS, _TEXT_TYPES)
    if fields is not None:
        if not isinstance(fields, list) or not fields:
            return [*problems, f"{where}.fields: must be a non-empty list"]
        if len(fields) > MAX_FIELDS:
            problems.append(f"{where}.fields: {len(fields)} fields, over the {MAX_FIELDS} limit")
        for i, field in enumerate(fields):
            problems += _check_text(f"{where}.fields[{i}]", field, MAX_FIELD_CHARS, _TEXT_TYPES)
    return problems


def _check_context(where: str, block: dict) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"{where}.elements: must be a non-empty list"]
    problems = []
    if len(elements) > MAX_CONTEXT_ELEMENTS:
        problems.append(
            f"{where}.elements: {len(elements)} elements, over the {MAX_CONTEXT_ELEMENTS} limit"
        )
    for i, element in enumerate(elements):
        path = f"{where}.elements[{i}]"
        if isinstance(element, dict) and element.get("type") == "image":
            keys = ("image_url", "alt_text")
            if not all(isinstance(element.get(k), str) and element[k] for k in keys):
                problems.append(f"{path}: an image needs image_url and alt_text")
        else:
            problems += _check_text(path, element, MAX_CONTEXT_TEXT_CHARS, _TEXT_TYPES)
    return problems


def _check_divider(where: str, block: dict) -> list[str]:
    extra = set(block) - {"type", "block_id"}
    return [f"{where}: unexpected keys {sorted(extra)}"] if extra else []


def _check_actions(where: str, block: dict) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"{where}.elements: must be a non-empty list"]
    problems = []
    if len(elements) > MAX_ACTION_ELEMENTS:
        problems.append(f"{where}.elements: {len(elements)} elements, over the {MAX_ACTION_ELEMENTS} limit")
    for i, element in enumerate(elements):
        path = f"{where}.elements[{i}]"
        kind = element.get("type") if isinstance(element, dict) else None
        if kind == "button":
            problems += _check_text(f"{path}.text", element.get("text"), MAX_BUTTON_TEXT_CHARS, {"plain_text"})
            if len(str(element.get("value", ""))) > MAX_BUTTON_VALUE_CHARS:
                problems.append(f"{path}.value: over {MAX_BUTTON_VALUE_CHARS} characters")
            if len(str(element.get("url", ""))) > MAX_BUTTON_URL_CHARS:
                problems.append(f"{path}.url: over {MAX_BUTTON_URL_CHARS} characters")
        elif kind == "static_select":
            options = element.get("options")
            if not isinstance(options, list) or not 0 < len(options) <= MAX_OPTIONS:
                problems.append(f"{path}.options: 1 to {MAX_OPTIONS} options")
                continue
            for j, option in enumerate(options):
                problems += _check_text(f"{path}.options[{j}].text", option.get("text"), MAX_BUTTON_TEXT_CHARS,
                                        {"plain_text"})
                if len(str(option.get("value", ""))) > MAX_OPTION_VALUE_CHARS:
                    problems.append(f"{path}.options[{j}].value: over {MAX_OPTION_VALUE_CHARS} characters")
        else:
            problems.append(f"{path}: element type {kind!r} is not one we render")
        if isinstance(element, dict) and not element.get("action_id"):
            problems.append(f"{path}: needs an action_id")
    return problems


def _check_text(where: str, obj: Any, limit: int, types: Iterable[str]) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: must be a text object"]
    kind = obj.get("type")
    if kind not in types:
        return [f"{where}: type {kind!r} is not allowed here (use {' or '.join(sorted(types))})"]
    problems = []
    extra = set(obj) - _TEXT_KEYS[kind]
    if extra:
        problems.append(f"{where}: unexpected keys {sorted(extra)}")
    value = obj.get("text")
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: text is empty")
    elif len(value) > limit:
        problems.append(f"{where}: text is {len(value)} characters, over the {limit} limit")
    return problems


_BLOCK_CHECKS: dict[Any, Callable[[str, dict], list[str]]] = {
    "header": _check_header,
    "section": _check_section,
    "context": _check_context,
    "divider": _check_divider,
    "actions": _check_actions,
}
