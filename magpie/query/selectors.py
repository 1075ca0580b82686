"""A CSS selector → a regex over ``elements_chain``, for action steps.

The chain is the autocapture elements from the clicked one outwards, joined
by ``;``; each element is written ``tag.classA.classB:key="value"key="value"``
with classes and attribute keys sorted (magpie/ingest/elements.py, as PostHog
writes it). The subset matched is what an element's own text can say:

- compound selectors of a tag (or ``*``), ``.class``, ``#id``, ``[attr]`` and
  ``[attr="value"]`` (quoted either way, or bare);
- joined by a descendant (space) or child (``>``) combinator.

The selector's last compound may match the clicked element or any ancestor (a
click inside a button is a click on the button); the compounds before it
match elements further out. Anything else (pseudo-classes, ``,``, ``+``, ``~``,
attribute operators other than ``=``) raises ``UnsupportedSelector``, which
the step check turns into ``invalid_action_steps``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME = r"-?[A-Za-z_][\w-]*"
_TOKEN = re.compile(
    rf"""
    (?P<space>\s*>\s*|\s+)
    | (?P<tag>{_NAME}|\*)
    | \.(?P<cls>{_NAME})
    | \#(?P<id>{_NAME})
    | \[\s*(?P<attr>{_NAME})\s*(?:=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[\w-]+))\s*)?\]
    """,
    re.VERBOSE,
)


class UnsupportedSelector(ValueError):
    """A selector outside the subset this module matches."""


@dataclass
class _Compound:
    tag: str | None = None
    classes: list[str] = field(default_factory=list)
    # chain attribute key → value (None: only present)
    attributes: dict[str, str | None] = field(default_factory=dict)
    # How it joins the compound after it (the next one inwards): "child" or "descendant".
    join: str | None = None


def _escaped(value: str) -> str:
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", value)


def _chain_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def parse(selector: str) -> list[_Compound]:
    """The selector's compounds, outermost first."""
    compounds = [_Compound()]
    text = selector.strip()
    at = 0
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None or found.end() == at:
            raise UnsupportedSelector(
                f"the selector {selector!r} has {text[at : at + 20]!r}, which is not matched:"
                " use tags, .classes, #ids, [attr=value] and the ' ' and '>' combinators"
            )
        at = found.end()
        kind = found.lastgroup
        current = compounds[-1]
        if found.group("space") is not None:
            current.join = "child" if ">" in found.group("space") else "descendant"
            compounds.append(_Compound())
        elif kind == "tag":
            if current.tag is not None or current.classes or current.attributes:
                raise UnsupportedSelector(f"the selector {selector!r} puts a tag mid-compound")
            current.tag = found.group("tag")
        elif kind == "cls":
            current.classes.append(found.group("cls"))
        elif kind == "id":
            current.attributes["attr__id"] = found.group("id")
        else:
            value = next((v for v in found.group("dq", "sq", "bare") if v is not None), None)
            current.attributes[f"attr__{found.group('attr')}"] = value
    if any(_empty(c) for c in compounds):
        raise UnsupportedSelector(f"the selector {selector!r} has an empty part")
    return compounds


def _empty(compound: _Compound) -> bool:
    return compound.tag is None and not compound.classes and not compound.attributes


def _element(compound: _Compound) -> str:
    """One element of the chain, from its start up to where its attributes begin
    (or, with attributes asked for, up to the last one asked for)."""
    tag = compound.tag
    # Tags are written lower-case, and HTML's tag selectors ignore case.
    pattern = r"[^.:;]*" if tag in (None, "*") else _escaped(tag.lower())
    for name in sorted(set(compound.classes)):
        pattern += rf"(\.[^.:;]+)*\.{_escaped(name)}"
    pattern += r"(\.[^.:;]+)*"
    if not compound.attributes:
        return pattern
    pattern += ":"
    for key in sorted(compound.attributes):
        value = compound.attributes[key]
        wanted = r'(\\.|[^"\\])*' if value is None else _escaped(_chain_value(value))
        # An id is written attr__id by the SDKs and attr_id by PostHog's own chains.
        name = r"attr__?id" if key == "attr__id" else _escaped(key)
        pattern += rf'([^;]*")?{name}="{wanted}"'
    return pattern


def _rest(compound: _Compound) -> str:
    """What may follow ``_element`` up to the end of the element."""
    return r"[^;]*" if compound.attributes else r"(:[^;]*)?"


def selector_regex(selector: str) -> str:
    compounds = parse(selector)
    innermost = compounds[-1]
    pattern = r"(^|;)" + _element(innermost)
    inner = innermost
    for outer in reversed(compounds[:-1]):
        pattern += _rest(inner) + ";"
        if outer.join == "descendant":
            pattern += r"([^;]*;)*"
        pattern += _element(outer)
        inner = outer
    if not inner.attributes:
        pattern += r"(:|;|$)"
    return pattern
