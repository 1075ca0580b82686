"""Autocapture elements: the legacy ``$elements`` list → PostHog's ``elements_chain`` text.

Each element becomes ``tag.classA.classB:attr="value"…`` (classes and attributes
sorted, quotes escaped); elements are joined with ``;`` from the clicked
element outwards.
"""

from __future__ import annotations

from typing import Any

_RENAMED = {"$el_text": "text", "nth_child": "nth-child", "nth_of_type": "nth-of-type"}
_SKIPPED = {"tag_name", "classes", "attr__class", "order"}


def elements_chain(elements: list[Any]) -> str:
    return ";".join(_element(e) for e in elements if isinstance(e, dict))


def _element(element: dict[str, Any]) -> str:
    text = str(element.get("tag_name") or "")
    classes = element.get("classes") or element.get("attr__class") or []
    if isinstance(classes, str):
        classes = classes.split()
    for name in sorted(str(c).replace('"', "") for c in classes if c):
        text += "." + name
    attributes = {
        _RENAMED.get(key, key): value
        for key, value in element.items()
        if key not in _SKIPPED and value is not None
    }
    if "attr__href" in attributes:
        attributes["href"] = attributes["attr__href"]
    if "attr__id" in attributes:
        attributes["attr_id"] = attributes["attr__id"]
    text += ":" + "".join(f'{key}="{_escape(value)}"' for key, value in sorted(attributes.items()))
    return text


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"')
