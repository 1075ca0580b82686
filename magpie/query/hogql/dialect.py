"""The HogQL dialect: ClickHouse's syntax, with PostHog's two twists.

- ``$`` is part of identifiers (``properties.$browser``, ``$session_id``), not
  the start of a heredoc string.
- Placeholders are ``{name}``; ClickHouse's ``{name:Type}`` works too.
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.parsers.clickhouse import ClickHouseParser
from sqlglot.tokens import TokenType


class HogQL(ClickHouse):
    class Tokenizer(ClickHouse.Tokenizer):
        HEREDOC_STRINGS: ClassVar[list[str | tuple[str, str]]] = []
        SINGLE_TOKENS = {k: v for k, v in ClickHouse.Tokenizer.SINGLE_TOKENS.items() if k != "$"}
        VAR_SINGLE_TOKENS = {"$"}

    class Parser(ClickHouseParser):
        def _parse_query_parameter(self) -> exp.Expr | None:
            name = self._parse_id_var()
            kind = self._parse_types() if self._match(TokenType.COLON) else None
            if not self._match(TokenType.R_BRACE):
                self.raise_error("Expecting } to close a placeholder")
            return self.expression(exp.Placeholder(this=name, kind=kind))
