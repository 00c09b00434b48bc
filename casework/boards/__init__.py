"""The board wing: what project boards see, from stored aggregates to the Voila page.

Floors, bottom up (each module imports only those below it):

- :mod:`~casework.boards.spec` — board specifications, CSS and result names (imports nothing)
- :mod:`~casework.boards.charts` — SVG charts (German number formats)
- :mod:`~casework.boards.results` — the pandas-free reader of a dataset's stored results
- :mod:`~casework.boards.build` — pipeline side: computes and stores every aggregate a board reads (pandas)
- :mod:`~casework.boards.parts` — small HTML parts (tiles, tables, German notes) the app and the panels share
- :mod:`~casework.boards.panels` — the result panels: project, effects, comparison with other jobcenters, coverage
- :mod:`~casework.boards.app` — the board object: filters, tiles, trend, referrals, exports (no pandas on the page)
- :mod:`~casework.boards.page` — the light page a dashboard notebook shows; builds the app after the cell

Nothing is imported here: a board's kernel pays only for the modules it uses.
"""
