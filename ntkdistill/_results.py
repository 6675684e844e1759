"""Results as data: ``to_dict``, ``to_frame``, ``to_xarray`` and a short ``repr`` for every result.

A result class gets them by listing :class:`ResultMixin` among its bases. The mixin reads the
class's fields (a dataclass's fields, or a named tuple's), so most classes need nothing more;
a class says what its fields mean with three optional class attributes:

``_counts``
    names of the fields that are counts (widths, iteration counts, sizes): exported and shown
    as integers even where they are stored as float64 (``Comparison``'s widths);
``_skip``
    names of fields that are not data (a callable) and are left out of ``to_dict``;
``_frame_rows()``
    a method returning the rows (a list of dicts) of the tidy frame, when one row per element
    of the fields' common shape is not what the result holds.

The mixin also sets ``__repr__`` at class creation (unless the class defines its own), so the
``@dataclass`` decorator keeps it instead of writing the field-by-field repr that would print
every weight array.

pandas (``to_frame``) and xarray (``to_xarray``) are imported only when called; the core needs
neither.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import os
    from types import ModuleType

    import pandas
    import xarray

__all__ = ["ResultMixin", "jsonable", "require"]

_REPR_MAX = 400  # characters: the bound every short repr stays under
_SMALL = 6  # arrays with at most this many entries are shown in a repr


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import an optional ``module`` or raise an ImportError naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs {module}, which is not installed: pip install 'ntkdistill[{extra}]' "
            f"(or pip install {module})."
        ) from exc


def jsonable(obj: Any, *, count: bool = False) -> Any:
    """``obj`` as plain JSON types, recursively.

    numpy scalars become Python ``int``/``float``/``bool``, arrays nested lists, tuples lists,
    dict keys strings; NaN becomes ``None`` and infinities the strings ``"inf"``/``"-inf"``
    (standard JSON has neither); a :class:`numpy.random.SeedSequence` becomes its entropy and
    spawn key; an object with ``to_dict`` is replaced by its dict. With ``count``, finite
    floats holding integers become ``int``.

    Examples
    --------
    >>> jsonable({"m": np.float64(38389150.0), "r": np.array([0.5, np.inf])}, count=True)
    {'m': 38389150, 'r': [0.5, 'inf']}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v, count=count) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, count=count) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            return [jsonable(v, count=count) for v in obj.tolist()]
        return jsonable(obj.tolist(), count=count)
    if isinstance(obj, np.random.SeedSequence):
        return {"entropy": jsonable(obj.entropy), "spawn_key": list(obj.spawn_key)}
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if count and v.is_integer():
            return int(v)
        return v
    if isinstance(obj, np.str_):
        return str(obj)
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return obj.to_dict()
    return obj


def _fields(obj) -> list[str]:
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj)]
    return list(getattr(type(obj), "_fields", ()))


def _short(v: Any, count: bool = False) -> str:
    """One value in a repr: numbers to 6 significant digits, small arrays listed, others summarised."""
    if isinstance(v, ResultMixin) or hasattr(v, "_fields") and hasattr(v, "to_dict"):
        return type(v).__name__ + "(...)"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if count and math.isfinite(f) and f.is_integer():
            return str(int(f))
        return f"{f:.6g}"
    if isinstance(v, (str, np.str_)):
        s = str(v)
        return repr(s if len(s) <= 40 else s[:37] + "...")
    if isinstance(v, np.ndarray):
        if v.ndim == 0:
            return _short(v[()], count)
        if v.size <= _SMALL and v.dtype != object:
            return "[" + ", ".join(_short(x, count) for x in v.ravel()) + "]"
        return f"<{v.dtype} array {v.shape}>"
    if isinstance(v, (list, tuple)):
        if len(v) <= _SMALL and all(isinstance(x, (int, float, str, np.number)) for x in v):
            return "[" + ", ".join(_short(x, count) for x in v) + "]"
        return f"<{len(v)} items>"
    if isinstance(v, dict):
        return f"<dict of {len(v)}>"
    if v is None:
        return "None"
    return f"<{type(v).__name__}>"


def short_repr(obj: Any) -> str:
    """``Name(field=value, ...)``: scalars and small arrays only, at most ``_REPR_MAX`` characters."""
    counts = set(getattr(obj, "_counts", ()))
    parts = []
    for name in _fields(obj):
        if name in getattr(obj, "_skip", ()):
            continue
        parts.append(f"{name}={_short(getattr(obj, name), name in counts)}")
    text = f"{type(obj).__name__}(" + ", ".join(parts) + ")"
    if len(text) > _REPR_MAX:
        text = text[: _REPR_MAX - 4] + "...)"
    return text


class ResultMixin:
    """``to_dict()``, ``to_frame()`` and a short ``repr`` for a result class (see the module docstring)."""

    _counts: tuple = ()
    _skip: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:  # set before @dataclass runs, so it keeps this one
            cls.__repr__ = short_repr

    def to_dict(self) -> dict:
        """Every field as plain JSON types (numbers, lists, strings, None), nested results as dicts.

        Counts are ints; NaN is ``None`` and infinity the string ``"inf"``, so that
        ``json.dumps(result.to_dict())`` is standard JSON.
        """
        counts = set(self._counts)
        return {
            name: jsonable(getattr(self, name), count=name in counts)
            for name in _fields(self)
            if name not in self._skip
        }

    def _frame_rows(self) -> list[dict]:
        """One row per element of the fields' common shape (fields that are not arrays repeat)."""
        values = {n: getattr(self, n) for n in _fields(self) if n not in self._skip}
        arrays = {n: np.asarray(v) for n, v in values.items() if isinstance(v, (np.ndarray, np.generic, int, float))}
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
        counts = set(self._counts)
        flat = {n: np.broadcast_to(a, shape).ravel() for n, a in arrays.items()}
        size = int(np.prod(shape)) if shape else 1
        rows = []
        for i in range(size):
            row = {}
            for n, v in values.items():
                if n in flat:
                    row[n] = _cell(flat[n][i], n in counts)
                elif isinstance(v, (str, bool, type(None))):
                    row[n] = v
            rows.append(row)
        return rows

    def to_frame(self, *args: Any, **kwargs: Any) -> pandas.DataFrame:
        """A tidy :class:`pandas.DataFrame` (one observation per row); needs pandas (``frames`` extra)."""
        pd = require("pandas", "frames", f"{type(self).__name__}.to_frame()")
        return pd.DataFrame(self._frame_rows(*args, **kwargs))


def _cell(v, count: bool = False):
    """A frame cell: Python scalars (counts as int where finite)."""
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v[()]
    if isinstance(v, np.generic):
        v = v.item()
    if count and isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    return v


# ------------------------------------------------------------------------------- PGDResult


def _pgd_grid(res):
    """Widths and per-width seed count of a PGD result (networks are width-major)."""
    widths = np.asarray(res.widths, dtype=int)
    uniq = list(dict.fromkeys(widths.tolist()))
    per = len(widths) // len(uniq)
    return uniq, per


def pgd_to_dict(self: Any, weights: bool = False) -> dict:
    """Every field as JSON types; the weights ``W``, ``W0``, ``a`` only with ``weights=True``."""
    skip = () if weights else ("W", "W0", "a")
    return {n: jsonable(getattr(self, n), count=n in self._counts) for n in _fields(self) if n not in skip}


def pgd_frame_rows(self: Any, what: str = "history") -> list[dict]:
    """Rows of :meth:`PGDResult.to_frame`: ``"history"`` (one per network and recorded iteration) or
    ``"networks"`` (one per network: the averages, final values and largest distance)."""
    if what not in ("history", "networks"):
        raise ValueError(f"what must be 'history' or 'networks', got {what!r}.")
    uniq, per = _pgd_grid(self)
    rows = []
    for k, w in enumerate(np.asarray(self.widths).tolist()):
        key = {"network": k, "width": int(w), "seed": k % per}
        if what == "networks":
            rows.append(
                {
                    **key,
                    **{
                        n: float(getattr(self, n)[k])
                        for n in ("avg_risk", "avg_error", "final_risk", "final_error", "max_distance")
                    },
                }
            )
            continue
        for j, t in enumerate(np.asarray(self.iterations).tolist()):
            rows.append({**key, "iteration": int(t), "risk": float(self.risk[k, j]), "error": float(self.error[k, j])})
    return rows


def pgd_to_xarray(self: Any) -> xarray.Dataset:
    """An :class:`xarray.Dataset` with dimensions ``width``, ``seed`` and ``iteration`` (needs xarray).

    Variables ``risk`` and ``error`` (width, seed, iteration); ``avg_risk``, ``avg_error``,
    ``final_risk``, ``final_error``, ``max_distance`` (width, seed); the settings (``loss``,
    ``eta``, ``T``, ``B``) as attributes. The weights are not included (their shapes differ
    between widths).
    """
    xr = require("xarray", "frames", "PGDResult.to_xarray()")
    uniq, per = _pgd_grid(self)
    shape = (len(uniq), per)
    data: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
        n: (("width", "seed", "iteration"), np.asarray(getattr(self, n)).reshape(shape + (-1,)))
        for n in ("risk", "error")
    }
    for n in ("avg_risk", "avg_error", "final_risk", "final_error", "max_distance"):
        data[n] = (("width", "seed"), np.asarray(getattr(self, n)).reshape(shape))
    coords = {
        "width": np.asarray(uniq, dtype=np.int64),
        "seed": np.arange(per, dtype=np.int64),
        "iteration": np.asarray(self.iterations, dtype=np.int64),
    }
    attrs = {"loss": self.loss, "eta": float(self.eta), "T": int(self.T), "B": float(self.B)}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def to_netcdf(self: Any, path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Write :meth:`to_xarray` to a netCDF file (``engine="scipy"`` unless given: no netCDF4 needed)."""
    kwargs.setdefault("engine", "scipy")
    return self.to_xarray().to_netcdf(path, **kwargs)


def pgd_repr(self: Any) -> str:
    """One line: the grid, the settings, and the range of the final risk and error over networks."""
    uniq, per = _pgd_grid(self)

    def span(a):
        a = np.asarray(a, dtype=np.float64)
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        return f"{lo:.4g}" if lo == hi else f"{lo:.4g}..{hi:.4g}"

    return (
        f"PGDResult({len(self.widths)} networks: widths {_short(np.asarray(uniq), True)} x {per} seeds, "
        f"loss={self.loss!r}, eta={float(self.eta):g}, T={int(self.T)}, B={float(self.B):g}; "
        f"final_risk {span(self.final_risk)}, final_error {span(self.final_error)}, "
        f"avg_risk {span(self.avg_risk)})"
    )


# ------------------------------------------------------------------------------- the others


def teacher_frame_rows(self: Any) -> list[dict]:
    """Rows of :meth:`TeacherLogits.to_frame`: one per point (and per count for running estimates)."""
    z, se = np.asarray(self.z), np.asarray(self.stderr)
    counts = np.atleast_1d(np.asarray(self.n_samples))
    z2, se2 = np.atleast_2d(z), np.atleast_2d(se)
    return [
        {"n_samples": int(counts[r]), "point": i, "z": float(z2[r, i]), "stderr": float(se2[r, i])}
        for r in range(z2.shape[0])
        for i in range(z2.shape[1])
    ]


def comparison_frame_rows(self: Any) -> list[dict]:
    """Rows of :meth:`Comparison.to_frame`: the arguments, then each side's width, iterations, step, radius."""
    rows = ResultMixin._frame_rows(self)
    for side in ("soft", "hard"):
        sub = ResultMixin._frame_rows(getattr(self, side))
        if len(sub) == 1 and len(rows) > 1:
            sub = sub * len(rows)
        for row, s in zip(rows, sub):
            row.update({f"{side}_{k}": s[k] for k in ("m", "T", "eta", "B")})
    return rows


def comparison_repr(self: Any) -> str:
    """One line: the arguments, each side's width and iterations, the ratio and which needs fewer."""
    head = ", ".join(f"{n}={_short(getattr(self, n), n == 'n')}" for n in ("gamma", "eps", "n", "delta", "c"))
    sides = "; ".join(
        f"{s}: m={_short(getattr(self, s).m, True)}, T={_short(getattr(self, s).T, True)}" for s in ("soft", "hard")
    )
    text = f"Comparison({head}; {sides}; ratio={_short(self.ratio)}, fewer={_short(self.fewer)})"
    return text if len(text) <= _REPR_MAX else text[: _REPR_MAX - 4] + "...)"


def check_frame_rows(self: Any) -> list[dict]:
    """Rows of :meth:`Check.to_frame`: one per predicted or measured quantity that is a number."""
    rows = []
    for kind in ("predicted", "measured"):
        for q, v in getattr(self, kind).items():
            if isinstance(v, (bool, np.bool_, int, float, np.number)) or v is None:
                rows.append(
                    {
                        "check": self.name,
                        "status": self.status,
                        "kind": kind,
                        "quantity": str(q),
                        "value": None if v is None else _cell(np.float64(v)),
                    }
                )
    return rows


def report_frame_rows(self: Any) -> list[dict]:
    """Rows of :meth:`VerifyReport.to_frame`: those of every check."""
    return [row for c in self.checks for row in check_frame_rows(c)]


def report_repr(self: Any) -> str:
    """One line: the data set, its size and each check's verdict."""
    checks = ", ".join(f"{c.name}: {c.status}" for c in self.checks)
    text = (
        f"VerifyReport(dataset={self.config.get('dataset')!r}, n={self.data.get('n')}, "
        f"d={self.data.get('d')}; {checks})"
    )
    return text if len(text) <= _REPR_MAX else text[: _REPR_MAX - 4] + "...)"


def width_search_rows(self: Any) -> list[dict]:
    """Rows of :meth:`WidthSearch.to_frame`: one per width trained and seed."""
    return [
        {"width": int(w), "seed": s, "error": _cell(e), "median_error": _cell(self.evaluated[w])}
        for w, errs in self.errors.items()
        for s, e in enumerate(errs)
    ]


def records_rows(attr: str) -> Callable[[Any], list[dict]]:
    """A ``_frame_rows`` returning the list of dicts held in field ``attr`` (summary rows, levels)."""

    def rows(self: Any) -> list[dict]:
        return [
            {k: _cell(v) for k, v in r.items() if not isinstance(v, (dict, list, tuple))} for r in getattr(self, attr)
        ]

    rows.__doc__ = f"Rows of ``to_frame()``: the dicts of ``{attr}``."
    return rows


def list_repr(attr: str, keys: tuple) -> Callable[[Any], str]:
    """A ``__repr__`` naming how many rows ``attr`` holds and the first ``keys`` of each (a small table)."""

    def rep(self: Any) -> str:
        items = getattr(self, attr)
        items = [i if isinstance(i, dict) else dataclasses.asdict(i) for i in items]
        lines = [f"{type(self).__name__}({len(items)} {attr})"]
        for i in items[:8]:
            lines.append("  " + ", ".join(f"{k}={_short(i.get(k))}" for k in keys if k in i))
        if len(items) > 8:
            lines.append(f"  ... {len(items) - 8} more")
        return "\n".join(lines)

    return rep


def table1_frame_rows(self: Any, which: str = "rows") -> list[dict]:
    """Rows of :meth:`Table1Result.to_frame`: ``"rows"`` (Table 1), ``"seeds"`` (one per row, label
    type and seed: the per-seed test accuracies), ``"sweep"`` (the gap against B), ``"teachers"`` or
    ``"stability"`` (unsettled students per label type, B, step size and width)."""
    if which == "stability":
        return [{k: _cell(v) for k, v in r.items()} for r in self.stability]
    if which == "seeds":
        return [
            {"variant": r.variant, "width": r.width, "labels": lab, "seed": s, "test_acc": float(a)}
            for r in self.rows
            for lab in ("hard", "soft")
            for s, a in enumerate(getattr(r, f"{lab}_test"))
        ]
    if which not in ("rows", "sweep", "teachers"):
        raise ValueError(f"which must be 'rows', 'seeds', 'sweep', 'teachers' or 'stability', got {which!r}.")
    return [
        {k: _cell(v) for k, v in dataclasses.asdict(r).items() if not isinstance(v, tuple)}
        for r in getattr(self, which)
    ]


def figure1_frame_rows(self: Any, which: str = "records") -> list[dict]:
    """Rows of :meth:`Figure1Result.to_frame`: ``"records"`` (one per noise level and run) or
    ``"summary"`` (one per noise level)."""
    if which not in ("records", "summary"):
        raise ValueError(f"which must be 'records' or 'summary', got {which!r}.")
    rows = self.records if which == "records" else self.summary()
    return [{k: _cell(v) for k, v in r.items()} for r in rows]


# ------------------------------------------------------------------------------- sweeps


class SweepResults(list):
    """What :func:`~ntkdistill.sweep.run_sweep` returns: the list of results, in the order of the
    configurations, that also knows those configurations.

    It is a plain ``list`` of dicts (equal to one, JSON-serialisable as one) with ``configs``
    beside it, and ``to_dict()``, ``to_frame()``, ``to_xarray()``, ``to_netcdf()``.
    """

    def __init__(self, results: Iterable[Any] = (), configs: Iterable[Mapping[str, Any]] = ()) -> None:
        super().__init__(results)
        self.configs = [dict(c) for c in configs]

    def __repr__(self) -> str:
        keys = sorted({k for c in self.configs for k in c})
        text = f"SweepResults({len(self)} results; configuration keys {keys})"
        return text if len(text) <= _REPR_MAX else text[: _REPR_MAX - 4] + "...)"

    def to_dict(self) -> dict:
        """``{"configs": [...], "results": [...]}`` as JSON types."""
        return {"configs": jsonable(self.configs), "results": jsonable(list(self))}

    def _frame_rows(self) -> list[dict]:
        rows = []
        for c, r in zip(self.configs, self):
            row = {k: _cell(v) for k, v in c.items()}
            clash = set(row) & set(r or {})
            if clash:
                raise ValueError(f"configuration and result share the keys {sorted(clash)}; rename one of them.")
            row.update({k: (v if isinstance(v, (list, dict)) else _cell(v)) for k, v in (r or {}).items()})
            rows.append(row)
        return rows

    def to_frame(self) -> pandas.DataFrame:
        """One row per configuration: its keys, then the result's (lists stay lists); needs pandas."""
        pd = require("pandas", "frames", "SweepResults.to_frame()")
        return pd.DataFrame(self._frame_rows())

    def to_xarray(self, dims: Sequence[str] | None = None) -> xarray.Dataset:
        """An :class:`xarray.Dataset` indexed by the configuration keys (``dims``, default all of
        them, e.g. ``("width", "seed")``); the scalar results become variables. Needs xarray."""
        require("xarray", "frames", "SweepResults.to_xarray()")
        frame = self.to_frame()
        keys = list(dict.fromkeys(k for c in self.configs for k in c)) if dims is None else list(dims)
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            raise ValueError(f"dims {missing} are not configuration keys; the keys are {list(frame.columns)}.")
        scalar = [
            c for c in frame.columns if c not in keys and not frame[c].map(lambda v: isinstance(v, (list, dict))).any()
        ]
        return frame[keys + scalar].set_index(keys).to_xarray()

    def to_netcdf(self, path: str | os.PathLike[str], dims: Sequence[str] | None = None, **kwargs: Any) -> Any:
        """Write :meth:`to_xarray` to netCDF (``engine="scipy"`` unless given)."""
        kwargs.setdefault("engine", "scipy")
        return self.to_xarray(dims).to_netcdf(path, **kwargs)


# ------------------------------------------------------------------------------- composition


def is_result(value: Any) -> bool:
    """Whether ``value`` is one of the library's result objects."""
    return isinstance(value, (ResultMixin, SweepResults)) or (
        isinstance(value, tuple) and hasattr(value, "_fields") and callable(getattr(value, "to_dict", None))
    )


def reject(name: str, value: Any, what: str = "an array or a number") -> None:
    """Raise a TypeError naming the fields to pass when ``value`` is a result object."""
    if not is_result(value):
        return
    names = [n for n in (_fields(value) or []) if n not in getattr(value, "_skip", ())]
    shown = ", ".join(names[:8]) + (" and more" if len(names) > 8 else "")
    if "soft labels" in what and "z" in names:
        hint = f" e.g. {name}=soft_labels(result.z);"
    elif name in names:
        hint = f" e.g. {name}=result.{name};"
    else:
        hint = ""
    raise TypeError(
        f"{name} must be {what}, got a {type(value).__name__}: pass the field you mean,{hint} its fields are {shown}."
    )


def unwrap(name: str, value: Any, field: str) -> Any:
    """``value.<field>`` when ``value`` is a result object holding ``field``; ``value`` itself otherwise
    (a result without that field is refused by :func:`reject`)."""
    if is_result(value) and hasattr(value, field):
        return getattr(value, field)
    reject(name, value)
    return value


def records_xarray(attr: str, dim: str) -> Callable[[Any], xarray.Dataset]:
    """A ``to_xarray`` for a result whose ``_frame_rows`` are one per ``dim`` (a requirement study's levels)."""

    def to_xarray(self: Any) -> xarray.Dataset:
        """An :class:`xarray.Dataset` indexed by ``dim``, the scalar columns as variables (needs xarray)."""
        require("xarray", "frames", f"{type(self).__name__}.to_xarray()")
        return self.to_frame().set_index(dim).to_xarray()

    return to_xarray
