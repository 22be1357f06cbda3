"""Griffe extension: read our Napoleon-style docstrings the way Sphinx would.

- ``Example:`` section headers become ``Examples:`` (griffe parses only the plural as an
  examples section; the singular becomes an admonition whose ``>>>`` lines render as
  nested block quotes);
- Sphinx roles (``:class:`~envs.core.ScenarioEnv```) become inline code, the last dotted
  part for ``~`` references, as Sphinx shows them.

Loaded by ``mkdocs.yml``; the source stays as written.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:[ \t]*$", flags=re.MULTILINE)
_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|obj|exc):`(~?)([\w.]+)`")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class NapoleonCompat(griffe.Extension):
    """Rewrites ``Example:`` headers and Sphinx roles before docstrings are parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrites the docstring of every loaded object."""
        if obj.docstring is not None:
            text = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _ROLE.sub(_role, text)
