"""The one face of every result object: ``summary()`` as aligned text or an HTML table, ``_repr_html_``.

Effect, difference-in-differences, latent-class and import results each describe
themselves as rows of (label, value); how those rows are laid out is decided
here, once, so a notebook shows every result the same way.

Examples
--------
>>> print(rows_text([("Estimate", "0.05"), ("Treated / control", "10 / 20")]))
Estimate           0.05
Treated / control  10 / 20
>>> rows_html([("a<b", "1")])
"<table><tr><th style='text-align:left'>a&lt;b</th><td style='text-align:left'>1</td></tr></table>"
"""

from __future__ import annotations

import html as _html

__all__ = ["SummaryFace", "rows_text", "rows_html"]


def rows_text(rows: list[tuple[str, str]]) -> str:
    """Label and value per line, labels padded to one width."""
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def rows_html(rows: list[tuple[str, str]]) -> str:
    """A two-column HTML table, labels and values escaped."""
    body = "".join(f"<tr><th style='text-align:left'>{_html.escape(str(k))}</th>"
                   f"<td style='text-align:left'>{_html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


class SummaryFace:
    """Mixin: a result that defines ``_summary_rows()`` (a list of (label, value) pairs) gets ``summary()``,
    ``_repr_html_`` and ``str()``."""

    def summary(self, html: bool = False) -> str:
        """A short report as text (or HTML)."""
        rows = self._summary_rows()
        return rows_html(rows) if html else rows_text(rows)

    def _repr_html_(self) -> str:
        return self.summary(html=True)

    def __str__(self) -> str:
        return self.summary()
