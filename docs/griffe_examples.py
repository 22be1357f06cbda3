"""Griffe extension: read Google ``Example:`` sections as ``Examples:``.

Napoleon (and our docstrings) accept the singular ``Example:``; griffe only parses the
plural as an examples section (the singular becomes an admonition whose ``>>>`` lines
render as nested block quotes). Loaded by ``mkdocs.yml``; the source stays as written.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:[ \t]*$", flags=re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Renames ``Example:`` section headers to ``Examples:`` before parsing."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrites the docstring of every loaded object."""
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)
