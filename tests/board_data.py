"""Small prepared datasets for the dashboard tests: tables plus the results the pipeline would store."""

from __future__ import annotations

from pathlib import Path

from casework.boards.build import build_board, stored_segments
from casework.effects import measure_effects
from casework.effects.did import project_did
from casework.effects.report import board_effects
from tests.datasets import small

#: dataset folder -> (scenario, persons) for the browser tests
BOARD_DATA = {"gelsenkirchen": ("gelsenkirchen", 4000), "pankow": ("pankow", 6000),
              "nrw_teilhabe": ("nrw_teilhabe", 12000)}


def prepare(root: Path, seed: int = 1) -> Path:
    """Write the small datasets with effects, DiD and board aggregates under ``root``; returns root."""
    for name, (scenario, persons) in BOARD_DATA.items():
        ds = small(scenario, seed, persons).save(Path(root) / name)
        ds.save_result("effects", board_effects(measure_effects(ds, method="aipw"), ds.ground_truth))
        ds.save_result("did", project_did(ds, n_boot=99))
        try:
            from casework.profiling import profillagen

            ds.save_result("profillagen", profillagen(ds))
        except ImportError:
            pass
        build_board(ds, stored_segments(ds))
    return Path(root)
