"""The board dashboards, shipped inside the package as ``casework.dashboards`` (see casework/paths.py)."""
