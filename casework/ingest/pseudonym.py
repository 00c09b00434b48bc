"""Keyed pseudonyms for direct identifiers (customer number, BG number, ...).

A pseudonym is ``prefix + HMAC-SHA256(key, domain + ":" + normalised value)``
in hex, truncated to 16 hex characters (64 bits). The same value, key and
domain always give the same pseudonym, so tables imported separately still
join; without the key a pseudonym cannot be traced back or recomputed.

The key is a secret of the data holder (at least 16 bytes). It comes from the
environment variable ``CASEWORK_PSEUDONYM_KEY`` or from the file named by
``CASEWORK_PSEUDONYM_KEY_FILE`` and is held in a :class:`PseudonymKey`, whose
``repr``/``str`` never show it and which refuses to be pickled. Nothing in this
module logs, prints or stores the key.

Examples
--------
>>> from casework.pseudonym import PseudonymKey, pseudonymise
>>> key = PseudonymKey(b"0123456789abcdef-demo-only")
>>> key
PseudonymKey(<hidden>)
>>> pseudonymise(["123A456", " 123a456 "], key, "person").tolist()  # normalised: same person
['p_781c4710cc61e555', 'p_781c4710cc61e555']
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "MIN_KEY_BYTES",
    "DOMAIN_PREFIXES",
    "PseudonymKey",
    "load_key",
    "normalise",
    "pseudonymise",
    "prefix",
]

#: Environment variable holding the key itself.
KEY_ENV = "CASEWORK_PSEUDONYM_KEY"
#: Environment variable naming a file that holds the key.
KEY_FILE_ENV = "CASEWORK_PSEUDONYM_KEY_FILE"
#: Shortest key accepted, in bytes.
MIN_KEY_BYTES = 16
#: Length of the hex part of a pseudonym (64 bits).
HEX_CHARS = 16

#: Prefix of the pseudonyms of each domain; any other domain ``d`` gets ``"d_"``.
DOMAIN_PREFIXES = {
    "person": "p_",
    "household": "bg_",  # Bedarfsgemeinschaft
    "jobcenter": "jc_",
    "project": "pr_",
    "partner": "pa_",
    "offer": "o_",
    "assessment": "a_",
    "plan": "pl_",
    "step": "st_",
    "contact": "c_",
    "referral": "r_",
    "spell": "s_",
    "enrolment": "e_",
}

_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_SPACES = re.compile(r"\s+")
_OTHER_SPACE = re.compile(r"[^\S ]")  # whitespace other than a plain blank


class PseudonymKey:
    """A pseudonymisation key that never shows itself.

    ``repr``, ``str`` and formatting print ``PseudonymKey(<hidden>)``;
    pickling raises :class:`TypeError` so the key cannot end up in a file or
    a cache by accident. :attr:`fingerprint` is a non-secret 8-hex id
    (an HMAC of a fixed text) to tell whether two imports used the same key.

    Parameters
    ----------
    secret : bytes or str
        The key (str is encoded as UTF-8); at least :data:`MIN_KEY_BYTES` bytes.

    Examples
    --------
    >>> k = PseudonymKey("a-demo-key-of-24-bytes!!")
    >>> str(k), f"{k}"
    ('PseudonymKey(<hidden>)', 'PseudonymKey(<hidden>)')
    >>> len(k.fingerprint)
    8
    """

    __slots__ = ("_secret", "_inner", "_outer")

    def __init__(self, secret):
        if isinstance(secret, PseudonymKey):
            secret = secret._secret
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not isinstance(secret, (bytes, bytearray)):
            raise TypeError(f"a pseudonym key must be bytes or str, not {type(secret).__name__}")
        secret = bytes(secret).strip()
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"the pseudonym key is too short ({len(secret)} bytes; at least {MIN_KEY_BYTES} "
                             f"are needed): set {KEY_ENV} or {KEY_FILE_ENV} to a longer secret")
        self._secret = secret
        # HMAC (RFC 2104) with the padded key hashed once: a million identifiers cost a second, not ten
        block = secret if len(secret) <= 64 else hashlib.sha256(secret).digest()
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __repr__(self) -> str:
        return "PseudonymKey(<hidden>)"

    __str__ = __repr__

    def __format__(self, spec) -> str:
        return repr(self)

    def __reduce__(self):
        raise TypeError("a PseudonymKey is never pickled or stored")

    def __eq__(self, other) -> bool:
        return isinstance(other, PseudonymKey) and hmac.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    @property
    def fingerprint(self) -> str:
        """A short non-secret id of the key (safe to write into reports)."""
        return hmac.new(self._secret, b"casework key fingerprint", hashlib.sha256).hexdigest()[:8]

    def _digest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:HEX_CHARS]


def load_key() -> PseudonymKey:
    """Read the pseudonymisation key from the environment.

    ``CASEWORK_PSEUDONYM_KEY`` (the key itself) wins over
    ``CASEWORK_PSEUDONYM_KEY_FILE`` (a path to a file holding the key;
    surrounding whitespace and a final newline are ignored).

    Returns
    -------
    PseudonymKey

    Raises
    ------
    ValueError
        When neither variable is set, the file is missing or unreadable,
        or the key is shorter than 16 bytes; the message names both variables.

    Examples
    --------
    >>> import os
    >>> saved = os.environ.get(KEY_ENV)
    >>> os.environ[KEY_ENV] = "doctest-key-0123456789"
    >>> load_key()
    PseudonymKey(<hidden>)
    >>> _ = os.environ.pop(KEY_ENV) if saved is None else os.environ.update({KEY_ENV: saved})
    """
    value = os.environ.get(KEY_ENV)
    if value:
        return PseudonymKey(value)
    fname = os.environ.get(KEY_FILE_ENV)
    if fname:
        path = Path(fname).expanduser()
        try:
            secret = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"{KEY_FILE_ENV} names {path}, which cannot be read ({exc.strerror}); "
                             f"set {KEY_FILE_ENV} to a readable key file or {KEY_ENV} to the key") from None
        return PseudonymKey(secret)
    raise ValueError(f"no pseudonym key: set {KEY_ENV} to a secret of at least {MIN_KEY_BYTES} bytes, or "
                     f"{KEY_FILE_ENV} to a file holding it (e.g. `python -c \"import secrets; "
                     f"print(secrets.token_hex(32))\" > pseudonym.key`)")


def normalise(value) -> str | None:
    """The canonical text of an identifier before hashing.

    Unicode NFKC, surrounding whitespace removed, inner whitespace collapsed
    to one space, upper case; whole-number floats lose ``.0`` (a customer
    number read as ``12345.0`` from SPSS equals ``"12345"`` from CSV).
    Leading zeros are kept. Missing values give ``None``.

    Examples
    --------
    >>> normalise("  ab  12 "), normalise(12345.0), normalise("007"), normalise(None)
    ('AB 12', '12345', '007', None)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        if float(value).is_integer():
            value = int(value)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"a yes/no value ({value!r}) cannot be an identifier")
    text = unicodedata.normalize("NFKC", str(value))
    text = _SPACES.sub(" ", text).strip().upper()
    return text or None


def _normalise_all(values) -> list:
    """:func:`normalise` of many values; text goes through pandas' string methods in one pass each."""
    values = pd.Series(values, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        return [normalise(v) for v in values]
    joined = "\x1f".join(values.dropna())
    text = values if joined.isascii() else values.str.normalize("NFKC")  # NFKC leaves ASCII as it is
    if "  " in joined or _OTHER_SPACE.search(joined):
        text = text.str.replace(_SPACES, " ", regex=True)
    text = text.str.strip().str.upper()
    return [t or None for t in text.tolist()]


def prefix(domain: str) -> str:
    """The pseudonym prefix of ``domain``.

    Examples
    --------
    >>> prefix("person"), prefix("household"), prefix("case")
    ('p_', 'bg_', 'case_')
    """
    if not isinstance(domain, str) or not _DOMAIN_RE.match(domain):
        raise ValueError(f"pseudonym domain {domain!r} must be lower-case letters, digits and _ "
                         f"(e.g. {', '.join(DOMAIN_PREFIXES)})")
    return DOMAIN_PREFIXES.get(domain, f"{domain}_")


def pseudonymise(values, key, domain: str) -> pd.Series:
    """Pseudonyms of ``values`` in ``domain`` under ``key``.

    Parameters
    ----------
    values : iterable or pandas.Series
        Identifiers (str or numbers); see :func:`normalise`. A Series keeps its index.
    key : PseudonymKey, bytes or str
        The secret (at least 16 bytes).
    domain : str
        What the identifiers are (``"person"``, ``"household"``, ...): the same
        value gets unrelated pseudonyms in different domains.

    Returns
    -------
    pandas.Series
        ``prefix + 16 hex characters`` per value (object dtype); missing
        values stay missing (``None``).

    Examples
    --------
    >>> key = PseudonymKey(b"0123456789abcdef-demo-only")
    >>> s = pseudonymise(["4711", None], key, "household")
    >>> s[0], s[1]
    ('bg_7af7a1986226575a', None)
    >>> pseudonymise(["4711"], key, "person")[0] != s[0]
    True
    """
    p = prefix(domain)
    k = key if isinstance(key, PseudonymKey) else PseudonymKey(key)
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    tag = f"{domain}:".encode()
    # each distinct value is hashed once (a million rows hold far fewer distinct identifiers than cells)
    codes, uniques = pd.factorize(series.astype(object), use_na_sentinel=True)
    by_norm: dict[str, str] = {}
    hashed = []
    for norm in _normalise_all(uniques):
        if norm is not None and norm not in by_norm:
            by_norm[norm] = p + k._digest(tag + norm.encode("utf-8"))
        hashed.append(None if norm is None else by_norm[norm])
    table = np.array([*hashed, None], dtype=object)
    out = table[np.where(codes < 0, len(uniques), codes)]
    return pd.Series(out, index=series.index, dtype=object, name=series.name)
