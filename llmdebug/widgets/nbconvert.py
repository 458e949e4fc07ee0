"""An nbconvert preprocessor that exports llmdebug's static views instead of its widget views.

With widget state saved in a notebook (``jupyter nbconvert --execute`` saves it by
default), nbconvert's HTML exporter renders each widget output as a placeholder that
the widget manager fills in the browser, loaded from a CDN, and drops the ``text/html``
beside it: offline, llmdebug's trees and charts come out blank. This preprocessor
removes the widget view from every output that carries an llmdebug static view, so the
exporter picks that view, and removes the saved widget state when no widget view is
left (then the page loads nothing from a CDN). Other widgets are left alone.

Example::

    jupyter nbconvert --to html --HTMLExporter.preprocessors=llmdebug.widgets.nbconvert.StaticViews NB.ipynb
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor

from .static import MARK

VIEW = "application/vnd.jupyter.widget-view+json"
# an llmdebug static view starts with the element that carries the class
_OURS = re.compile(rf'\s*<\w+ class="(?:[^"]* )?{MARK}[ "]')


def _html(data: dict) -> str:
    v = data.get("text/html", "")
    return "".join(v) if isinstance(v, list) else str(v)


class StaticViews(Preprocessor):
    """Export llmdebug widget outputs as their static HTML (trees, diffs, SVG charts)."""

    def preprocess(self, nb, resources):
        views_left = 0
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                data = out.get("data") or {}
                if VIEW not in data:
                    continue
                if _OURS.match(_html(data)):
                    del data[VIEW]
                else:
                    views_left += 1
        if not views_left and "widgets" in nb.metadata:
            del nb.metadata["widgets"]
        return nb, resources
