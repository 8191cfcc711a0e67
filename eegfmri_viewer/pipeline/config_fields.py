"""Field metadata of the settings dataclasses: allowed values and documentation.

A setting with a fixed set of values declares it once, in its dataclass field::

    null: str = choice_field("shift", ("shift", "blocks"))

which stores ``metadata={"choices": ("shift", "blocks")}``. :func:`choice_problems`
validates every such field and the Training dock shows it as a combo box, so a
new choice added there reaches both.

:func:`attribute_docs` reads the numpydoc ``Attributes`` section of a
dataclass's docstring, the one description of each setting, which the
Training dock shows as tooltips.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

CHOICES = "choices"
"""Key of the allowed values (a tuple of strings) in a field's ``metadata``."""


def choice_field(default: str, choices: tuple) -> Any:
    """A dataclass field whose value must be one of ``choices``.

    Parameters
    ----------
    default : str
        Default value; must be one of ``choices``.
    choices : tuple of str
        Allowed values, in the order a form lists them.

    Returns
    -------
    dataclasses.Field
    """
    choices = tuple(choices)
    if default not in choices:
        raise ValueError(f"default {default!r} is not one of the choices {choices!r}")
    return dataclasses.field(default=default, metadata={CHOICES: choices})


def field_choices(klass_or_obj) -> dict:
    """``{field name: allowed values}`` for the fields of a dataclass that declare choices."""
    return {f.name: tuple(f.metadata[CHOICES]) for f in dataclasses.fields(klass_or_obj)
            if CHOICES in f.metadata}


def _quoted_alternatives(choices: tuple) -> str:
    quoted = [f"'{c}'" for c in choices]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def choice_problems(obj) -> list:
    """Fields of dataclass instance ``obj`` whose value is not one of their choices.

    Returns
    -------
    list of str
        One ``"key: must be 'a' or 'b', got 'x'"`` sentence per bad field.
    """
    out = []
    for name, choices in field_choices(obj).items():
        value = getattr(obj, name)
        if value not in choices:
            out.append(f"{name}: must be {_quoted_alternatives(choices)}, got {value!r}")
    return out


_SECTION_RULE = re.compile(r"^\s*-{3,}\s*$")
_ENTRY = re.compile(r"^(?P<names>[A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_][\w]*)*)\s*(?::\s*(?P<type>.*))?$")


def parse_attributes(docstring: str) -> dict:
    """Entries of the numpydoc ``Attributes`` section of ``docstring``.

    Parameters
    ----------
    docstring : str
        A numpydoc docstring (indentation as in ``__doc__``).

    Returns
    -------
    dict
        ``{name: (type text, description)}``; the description's lines are
        joined by single spaces. Names documented together
        (``min_lag_s, max_lag_s : float``) each get the entry. Empty when the
        docstring has no ``Attributes`` section.
    """
    lines = inspect.cleandoc(docstring or "").splitlines()
    start = None
    for i in range(len(lines) - 1):
        if lines[i].strip() == "Attributes" and _SECTION_RULE.match(lines[i + 1]):
            start = i + 2
            break
    if start is None:
        return {}
    entries: dict = {}
    names: list = []
    type_text = ""
    description: list = []

    def flush():
        for name in names:
            entries[name] = (type_text, " ".join(description))

    i = start
    while i < len(lines):
        line = lines[i]
        # the next section (a title underlined by dashes) ends this one
        if i + 1 < len(lines) and line.strip() and _SECTION_RULE.match(lines[i + 1]) \
                and not line.startswith((" ", "\t")):
            break
        if not line.strip():
            i += 1
            continue
        if not line.startswith((" ", "\t")):
            match = _ENTRY.match(line.strip())
            if match is None:
                break
            flush()
            names = [n.strip() for n in match.group("names").split(",")]
            type_text = (match.group("type") or "").strip()
            description = []
        elif names:
            description.append(line.strip())
        i += 1
    flush()
    return entries


_ROLE = re.compile(r":[\w:]+:`(~?)([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(rst: str) -> str:
    """``rst`` without reStructuredText markup, as Sphinx shows it.

    Inline literals lose their double backquotes; a cross-reference role keeps
    its target, only the last dotted part when the target starts with ``~``.
    """
    def role(match):
        target = match.group(2)
        return target.rsplit(".", 1)[-1] if match.group(1) else target

    return _LITERAL.sub(r"\1", _ROLE.sub(role, rst))


def attribute_docs(klass) -> dict:
    """``{field name: description}`` of a settings dataclass, from its docstring, as plain text.

    Fields without an entry in the ``Attributes`` section are left out.
    """
    parsed = parse_attributes(klass.__doc__ or "")
    return {f.name: plain_text(parsed[f.name][1]) for f in dataclasses.fields(klass) if f.name in parsed}
