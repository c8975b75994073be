"""Which types a .skops model file may contain: an allowlist, and names never trusted.

skops builds each object by calling its type with arguments from the file, so a type is
trusted only when building it from any arguments is harmless: scikit-learn estimators and
the reviewed parts fitted models carry, numpy arrays, dtypes and scalars, scipy sparse
matrices. Types that read or write files, sockets or processes are never trusted, not even
when the user names them with --trust-type.
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "NEVER_TRUSTED_TYPES",
    "UNTRUSTED_TYPES",
    "is_never_trusted",
    "trusted_model_types",
]

#: A .skops file holds types off the allowlist: ``path``, ``types`` and ``flags``.
UNTRUSTED_TYPES = (
    "model file '{path}' contains types that are not trusted: {types}; "
    "if you trust their code, pass {flags}"
)
#: A .skops file holds types that read or write files or run programs: refused always.
NEVER_TRUSTED_TYPES = (
    "model file '{path}' contains types that can read or write files or run programs, "
    "which are never loaded, not even with --trust-type: {types}"
)

#: Every class defined in these scikit-learn modules is arithmetic on arrays (losses, link
#: functions, distance metrics) or a setting that stores numbers (cross-validation
#: splitters, scorers); fitted models and searches carry them as attributes.
_SKLEARN_PART_MODULES = (
    "sklearn._loss._loss",
    "sklearn._loss.link",
    "sklearn._loss.loss",
    "sklearn.linear_model._sgd_fast",
    "sklearn.metrics._dist_metrics",
    "sklearn.metrics._scorer",
    "sklearn.model_selection._split",
)

#: The other non-estimator objects fitted scikit-learn models carry: tree storage,
#: histogram binning, neighbour indexes, optimizers, calibrators, a column selector, and the
#: ``partial(check_array, ...)`` HistGradientBoosting keeps for categorical features. Each
#: was reviewed: built from a file's arguments, it holds numbers and arrays and opens nothing.
_SKLEARN_MODEL_PARTS = (
    "functools.partial",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
    "sklearn.compose._column_transformer.make_column_selector",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
    "sklearn.utils.validation.check_array",
)

#: Modules whose classes and functions open files, sockets or processes, or run code. A
#: type from one of them (or a submodule) is refused even when --trust-type names it.
_NEVER_TRUSTED_MODULES = frozenset(
    {
        "_io", "_pickle", "_socket", "bz2", "code", "codecs", "ctypes", "dbm", "fileinput",
        "ftplib", "glob", "gzip", "http", "importlib", "io", "joblib", "logging", "lzma",
        "marshal", "mmap", "multiprocessing", "nt", "numpy.lib._datasource",
        "numpy.lib._npyio_impl", "numpy.lib.format", "numpy.lib.npyio", "os", "pathlib",
        "pickle", "posix", "pty", "runpy", "scipy.io", "shelve", "shutil", "smtplib",
        "socket", "sqlite3", "subprocess", "sys", "tarfile", "tempfile", "urllib",
        "webbrowser", "zipfile",
    }
)  # fmt: skip

#: Functions and classes elsewhere that read or write files or run code when called.
_NEVER_TRUSTED_NAMES = frozenset(
    {
        "builtins.__import__", "builtins.breakpoint", "builtins.compile", "builtins.eval",
        "builtins.exec", "builtins.input", "builtins.open", "numpy.fromfile",
        "numpy.fromregex", "numpy.genfromtxt", "numpy.load", "numpy.loadtxt",
        "numpy.ndarray.dump", "numpy.ndarray.tofile", "numpy.save", "numpy.savetxt",
        "numpy.savez", "numpy.savez_compressed",
    }
)  # fmt: skip

#: Class names that exist to map or create files, refused under whatever module names them.
_NEVER_TRUSTED_CLASS_NAMES = frozenset(
    {"DataSource", "FortranFile", "TempMemmap", "memmap", "netcdf_file", "netcdf_variable",
     "open_memmap"}
)  # fmt: skip


def _type_name(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__name__}"


def _is_skops_file(model: object) -> bool:
    return isinstance(model, Path) and model.suffix.lower() == ".skops"


def import_allowlist_first(model: object) -> None:
    """If ``model`` is a .skops file, import scipy.special now: before pandas and the pipe.

    Importing skops builds its allowlist of scipy.special's ~300 ufuncs with
    ``pickle.whichmodule``, which walks ``sys.modules`` in import order until a module holds
    each one. Imported before pandas, pyarrow and the pipe (about 1,000 modules), scipy.special
    is found that much sooner: ``fairaudit run``'s imports took 1.68-1.74 s instead of
    1.9-2.0 s (benchmarks/README.md). Nothing else changes: skops would import it anyway.
    """
    if _is_skops_file(model):
        import scipy.special  # noqa: F401


def import_skops(model: object) -> None:
    """If ``model`` is a .skops file, import skops and build the allowlist now, without
    reading the file: loading it then only reads and builds. Anything else (an estimator in
    memory, a pickle, None) needs nothing here."""
    if _is_skops_file(model):
        import skops.io  # noqa: F401

        trusted_model_types()  # cached; imports the model parts it names


@functools.cache
def trusted_model_types() -> frozenset[str]:
    """Return the types a .skops file may contain without --trust-type.

    Those are scikit-learn's estimators, transformers and pipelines (their constructors
    only store parameters), the reviewed parts fitted models carry (``_SKLEARN_PART_MODULES``,
    ``_SKLEARN_MODEL_PARTS``, the metric functions scorers call), and plain data: numpy
    arrays, dtypes, scalars and random generators, and scipy sparse matrices and arrays.
    Names are compared exactly, never by module prefix: ``numpy.memmap`` is a numpy class,
    and building one from a file's arguments creates or overwrites a file.
    """
    import importlib
    import inspect

    import scipy.sparse
    from sklearn.metrics import get_scorer, get_scorer_names
    from sklearn.utils import all_estimators

    names = {_type_name(cls) for _, cls in all_estimators()}
    for scorer_name in get_scorer_names():  # a search's scoring= keeps the metric function
        metric = getattr(get_scorer(scorer_name), "_score_func", None)
        if metric is not None:
            names.add(_type_name(metric))
    for module_name in _SKLEARN_PART_MODULES:
        module = importlib.import_module(module_name)
        names.update(
            _type_name(cls)
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == module_name
        )
    names.update(_SKLEARN_MODEL_PARTS)
    names.update(_type_name(cls) for cls in set(np.sctypeDict.values()))
    random_types = [np.random.RandomState, np.random.Generator, np.random.SeedSequence]
    random_types += [
        cls
        for cls in vars(np.random).values()
        if isinstance(cls, type) and issubclass(cls, np.random.BitGenerator)
    ]
    for cls in random_types:  # skops names them both ways
        names.update({_type_name(cls), f"numpy.random.{cls.__name__}"})
    names.update(["numpy.ndarray", "numpy.dtype", _type_name(np.ma.MaskedArray)])
    sparse = (scipy.sparse.spmatrix, scipy.sparse.sparray)
    names.update(
        _type_name(cls)
        for cls in vars(scipy.sparse).values()
        if isinstance(cls, type) and issubclass(cls, sparse)
    )
    return frozenset(names)


def _resolve_without_import(name: str) -> Any:
    """Return the object ``name`` denotes in modules already imported, or None.

    Never imports: the name comes from the model file, and importing runs a module's code.
    """
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        obj: Any = module
        with warnings.catch_warnings():  # numpy warns on deprecated aliases
            warnings.simplefilter("ignore")
            for part in parts[cut:]:
                try:
                    obj = getattr(obj, part)
                except Exception:
                    return None
        return obj
    return None


def _names_never_trusted(name: str) -> bool:
    parts = name.split(".")
    modules = {".".join(parts[:cut]) for cut in range(1, len(parts))}
    return (
        bool(modules & _NEVER_TRUSTED_MODULES)
        or name in _NEVER_TRUSTED_NAMES
        or parts[-1] in _NEVER_TRUSTED_CLASS_NAMES
    )


def is_never_trusted(name: str) -> bool:
    """Return True for a type or function that reads or writes files, sockets or processes.

    Such a name is refused even when --trust-type names it. It is checked as written and,
    when it denotes an object in a module already imported, under that object's own name
    and base classes, so an alias such as ``numpy._core.memmap.memmap`` is caught too.
    """
    if _names_never_trusted(name):
        return True
    obj = _resolve_without_import(name)
    if obj is None:
        return False
    own_name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
    if _names_never_trusted(own_name):
        return True
    return isinstance(obj, type) and any(
        _names_never_trusted(_type_name(base)) for base in obj.__mro__
    )
