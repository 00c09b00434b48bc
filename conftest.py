"""Collection rules for the whole tree (doctests run over casework/)."""

# Deprecated import paths re-export (or alias) their new homes; collecting their doctests would import the same
# module under two names.
_OLD_PATHS = ("board", "boarddata", "boardpage", "dashboard", "svgchart", "validation")
collect_ignore = [f"casework/{name}.py" for name in _OLD_PATHS]
