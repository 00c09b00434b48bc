"""Small prepared datasets for the dashboard tests: tables plus the results the pipeline would store."""

from __future__ import annotations

from pathlib import Path

from casework.produce import produce
from tests.datasets import small

#: dataset folder -> (scenario, persons) for the browser tests
BOARD_DATA = {"gelsenkirchen": ("gelsenkirchen", 4000), "pankow": ("pankow", 6000),
              "nrw_teilhabe": ("nrw_teilhabe", 12000)}


def prepare(root: Path, seed: int = 1) -> Path:
    """Write the small datasets with every result the boards read (the pipeline's producer) under ``root``."""
    for name, (scenario, persons) in BOARD_DATA.items():
        produce(small(scenario, seed, persons).save(Path(root) / name), small=True, log=lambda _: None)
    return Path(root)
