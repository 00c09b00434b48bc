"""Work on a dataset without a persons table runs in one go: pieces are cut by persons, so there is nothing to
cut (an analyst's subset of tables, or calibration's per-jobcenter sub-datasets)."""

from casework import engine, synth
from casework.network import needs_coverage
from casework.store import Dataset


def test_a_dataset_without_persons_is_not_split_and_gives_the_whole_datasets_counts():
    ds = synth.generate("pankow", seed=1, persons=1500)
    sub = Dataset.from_tables({name: ds.table(name) for name in ("assessments", "referrals", "offers", "partners")})
    assert engine.map_partitions(sub, lambda piece: sorted(piece.tables)) == [sorted(sub.tables)]
    whole = needs_coverage(ds).set_index("need")
    part = needs_coverage(sub).set_index("need")
    assert part["needs"].equals(whole.loc[part.index, "needs"])
    assert part["covered"].equals(whole.loc[part.index, "covered"])
