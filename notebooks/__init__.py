"""The analysis notebooks, shipped inside the package as ``casework.notebooks`` (see casework/paths.py)."""
