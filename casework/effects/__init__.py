"""Effects of network measures on integration outcomes.

* :func:`estimate` — the effect of a binary measure on any DataFrame (OLS, IPW,
  AIPW, matching; ATT or ATE), returning an immutable :class:`EffectResult`.
* :func:`measure_effects` — one row per measure kind of a dataset, keyed like
  the ground truth.
* Refusals are :class:`ValueError` subclasses: :class:`EffectInputError`
  (bad input), :class:`OverlapError`, :class:`WeightError` (the guards).
"""

from casework.effects._guards import GUARD_LIMITS, EffectInputError, OverlapError, SpecificationError, WeightError
from casework.effects.core import ESTIMANDS, METHODS, Diagnostics, EffectResult, estimate
from casework.effects.dataset import measure_effects

__all__ = ["estimate", "EffectResult", "Diagnostics", "METHODS", "ESTIMANDS", "measure_effects",
           "EffectInputError", "OverlapError", "WeightError", "SpecificationError", "GUARD_LIMITS"]
