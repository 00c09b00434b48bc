"""Ship the notebooks and dashboards inside the package (casework.notebooks, casework.dashboards).

Everything else is declared in pyproject.toml; only the mapping of two top-level folders onto
sub-packages needs code, so an installed wheel runs ``casework pipeline`` and ``casework serve``.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["casework", "casework.*"]) + ["casework.notebooks", "casework.dashboards"],
    package_dir={"casework.notebooks": "notebooks", "casework.dashboards": "dashboards"},
)
