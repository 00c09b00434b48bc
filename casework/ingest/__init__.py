"""Import of real case-management exports (CSV, Excel, SPSS, Stata) into the case data model.

The sub-package is split along the steps of an import:

- :mod:`~casework.ingest.read`: read an export file as it is (no typing);
- :mod:`~casework.ingest.mapping`: load and check the YAML mapping;
- :mod:`~casework.ingest.convert`: turn source cells into model values;
- :mod:`~casework.ingest.importer`: the import itself (checks, quarantine);
- :mod:`~casework.ingest.output`: where it may write, and writing the whole output at once;
- :mod:`~casework.ingest.report`: :class:`ImportReport`, the account of an import;
- :mod:`~casework.ingest.pseudonym`: keyed pseudonyms for direct identifiers.

The cross-row rules of the model (date order, overlapping spells, plausible
age, unique keys, references) live in :mod:`casework.datarules`, shared with
:func:`casework.schema.validate`.

Examples
--------
>>> from casework.ingest import load_mapping
>>> m = load_mapping({"tables": {"contacts": {"file": "kontakte.csv", "columns": {
...     "contact_id": {"source": "Kontakt-Nr"},
...     "person_id": {"source": "Kundennummer", "pseudonym": "person"},
...     "date": "Datum", "kind": "Art"}}}})
>>> sorted(m.tables["contacts"].identifier_sources)
['Kundennummer']
"""

from casework.ingest.importer import QUARANTINE_COLUMNS, import_source
from casework.ingest.mapping import ColumnSpec, Mapping, TableMapping, load_mapping
from casework.ingest.read import FORMATS, read_source
from casework.ingest.report import ImportReport

__all__ = [
    "FORMATS",
    "QUARANTINE_COLUMNS",
    "ColumnSpec",
    "TableMapping",
    "Mapping",
    "ImportReport",
    "read_source",
    "load_mapping",
    "import_source",
]
