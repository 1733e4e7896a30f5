"""Saving and loading fitted classifiers without pickle.

File format (``.npz``, version 1)
---------------------------------
One NumPy ``.npz`` archive, read with ``numpy.load(allow_pickle=False)``:

- ``__ddriqa_classifier__``: a 0-d unicode array holding a JSON document::

      {"format": "ddriqa-classifier", "version": 1, "ddriqa_version": "...",
       "sklearn_version": "...", "model": RECORD, "info": {...}}

  ``RECORD`` is ``{"class": NAME, "params": {...}, "fitted": {...}}`` where ``NAME`` is one of
  :data:`ALLOWED_CLASSES` (an explicit allow-list: Pipeline, StreamingPCA, CappedStreamingPCA,
  StandardScaler, MinMaxScaler, GlobalScaler, SVC, LinearSVC, LogisticRegression,
  CropVoteClassifier, DDRExtractor, BRISQUEExtractor), ``params`` are the constructor arguments (``get_params(deep=False)``) and
  ``fitted`` the fitted attributes the class's entry allows. Values are JSON scalars, lists, ``{"__tuple__": [...]}``,
  ``{"__dict__": {...}}``, ``{"__estimator__": RECORD}`` (nested estimators, e.g. pipeline
  steps) or ``{"__array__": "aN"}`` (a reference to the archive member ``aN``).
- ``a0``, ``a1``, ...: the fitted arrays (numeric or unicode; object arrays are refused).

A fitted :class:`~sklearn.model_selection.GridSearchCV` is stored as its ``best_estimator_``
(e.g. the paper head's SVC refitted with the chosen C); the search goes to
``info["grid_search"][PLACE]``: ``best_params``, ``best_score``, ``n_splits``, ``candidates``
(every parameter set tried) and their ``mean_test_score`` (:func:`classifier_info` reads it).
A :class:`~ddriqa.features.ddr.DDRExtractor` is stored by
its parameters: a shipped weights name, the absolute path of a weights file (with the SHA-256
of its tensors, :func:`ddriqa.models.weights.tensor_sha256`, checked on load, and the file's own
SHA-256 for the record; files that carry only the file digest are checked by it), or
``"random"`` / ``"random_rrdbnet"`` with an integer ``random_state``; an in-memory
``torch.nn.Module`` cannot be stored (save it with
:func:`ddriqa.models.weights.save_weights` and pass the path).

Loading builds objects only from allow-listed classes, checks every parameter name against
the class's signature, every fitted attribute against the class's list, and the shapes of the
arrays against each other; anything else is refused with a
:class:`~ddriqa.errors.ModelFileError`. No code from the file is ever executed.

Adding an allowed class
-----------------------
:data:`ALLOWED_CLASSES` (in ``classification/_allowed.py``, with the checkers) maps a class
name to an :class:`AllowedClass` ``(module, fitted, check)``. To allow a new estimator:

1. write its checker, ``def _check_foo(est, c)``: called on load once the fitted attributes are
   set; ``c.require("coef_", ...)`` refuses a file missing an attribute the estimator needs,
   ``c.need(condition, "coef_ has shape ...")`` refuses inconsistent shapes (both raise a
   ``ModelFileError`` naming the file and the estimator's place in the model). Reuse
   ``_check_linear_model`` and the like when the fitted attributes have the same layout;
2. add one line to the table:
   ``"Foo": AllowedClass("sklearn.some_module", ("coef_", ...), _check_foo),`` listing every
   fitted attribute ``predict`` needs (attributes not listed are not saved, and are refused in a
   file). Use ``fitted=None`` and :func:`_rebuild_stateless` for a stateless extractor whose
   ``fit`` only validates its parameters;
3. add a round-trip test (save, load, same predictions) in ``tests/classification/``.

The class must live in ``sklearn`` or ``ddriqa`` and take only JSON-representable parameters
(numbers, strings, tuples, lists, dicts, arrays, allowed estimators).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
from pathlib import Path

import numpy as np

from ddriqa.classification._allowed import ALLOWED_CLASSES, AllowedClass, _Check
from ddriqa.errors import InputError, ModelFileError

__all__ = [
    "FORMAT",
    "VERSION",
    "ALLOWED_CLASSES",
    "AllowedClass",
    "save_classifier",
    "load_classifier",
    "classifier_info",
    "shipped_classifiers",
    "classifiers_dir",
    "classifier_file",
    "model_path",
]

FORMAT = "ddriqa-classifier"
VERSION = 1
_META_KEY = "__ddriqa_classifier__"
_SUFFIX = ".npz"




def classifiers_dir():
    """Folder of shipped classifiers: ``<weights dir>/classifiers`` (the repository's ``weights/classifiers``)."""
    from ddriqa.models.weights import weights_dir

    return Path(weights_dir()) / "classifiers"


def shipped_classifiers():
    """Names of the shipped classifiers (``<name>.npz`` files in :func:`classifiers_dir`)."""
    folder = classifiers_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*" + _SUFFIX) if p.is_file())


# ---------------------------------------------------------------------------------- encoding
class _Encoder:
    def __init__(self):
        self.arrays = {}
        self.info = {}

    def array(self, value, where):
        arr = np.asarray(value)
        if arr.dtype == object:
            if all(isinstance(v, str) for v in arr.ravel()):
                arr = arr.astype(str)
            else:
                raise InputError(f"cannot save {where}: object array of non-string values")
        if arr.dtype.kind not in "biufU":
            raise InputError(f"cannot save {where}: unsupported array dtype {arr.dtype}")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        return {"__array__": key}

    def value(self, value, where):
        from sklearn.base import BaseEstimator

        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
            return int(value)
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, (float, np.floating)):
            return float(value)
        if isinstance(value, np.ndarray):
            return self.array(value, where)
        if isinstance(value, tuple):
            return {"__tuple__": [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise InputError(f"cannot save {where}: dict keys must be strings")
            return {"__dict__": {k: self.value(v, f"{where}.{k}") for k, v in value.items()}}
        if isinstance(value, BaseEstimator):
            return {"__estimator__": self.estimator(value, where)}
        raise InputError(
            f"cannot save {where}: values of type {type(value).__name__} are not supported "
            "(only numbers, strings, lists, dicts, arrays and allow-listed estimators)"
        )

    def estimator(self, est, where="model"):
        from sklearn.model_selection import GridSearchCV

        if isinstance(est, GridSearchCV):
            if not hasattr(est, "best_estimator_"):
                raise InputError(f"cannot save {where}: the GridSearchCV is not fitted (or refit=False)")
            results = getattr(est, "cv_results_", {})
            self.info.setdefault("grid_search", {})[where] = {
                "best_params": {k: _plain(v) for k, v in est.best_params_.items()},
                "best_score": float(est.best_score_),
                "n_splits": int(getattr(est, "n_splits_", 0)),
                "candidates": [{k: _plain(v) for k, v in c.items()} for c in results.get("params", [])],
                "mean_test_score": [float(v) for v in results.get("mean_test_score", [])],
            }
            return self.estimator(est.best_estimator_, where)
        name = type(est).__name__
        if name not in ALLOWED_CLASSES or type(est).__module__.split(".")[0] not in ("sklearn", "ddriqa"):
            raise InputError(
                f"cannot save {where}: {type(est).__module__}.{name} is not a supported estimator "
                f"(supported: {', '.join(sorted(ALLOWED_CLASSES))})"
            )
        params = est.get_params(deep=False)
        if name == "DDRExtractor":
            params = _ddr_params_for_saving(params, where)
        record = {"class": name, "params": {k: self.value(v, f"{where}.{k}") for k, v in params.items()}}
        fitted_names = ALLOWED_CLASSES[name].fitted
        fitted = {}
        if fitted_names is None:  # stateless extractor: re-fitted on load
            record["fitted"] = {}
            return record
        for attr in fitted_names:
            if attr in vars(est):
                fitted[attr] = self.value(vars(est)[attr], f"{where}.{attr}")
        record["fitted"] = fitted
        return record


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)


def _ddr_params_for_saving(params, where):
    params = dict(params)
    weights = params.get("weights")
    if isinstance(weights, (str, os.PathLike)):
        text = os.fspath(weights)
        if text in ("random", "random_rrdbnet"):
            if not isinstance(params.get("random_state"), (int, np.integer)):
                raise InputError(
                    f"cannot save {where}: weights={text!r} needs an integer random_state to be reproducible"
                )
        else:
            from ddriqa.models.weights import resolve_weights, sha256_file, tensor_sha256

            try:
                path = resolve_weights(text)
            except ModelFileError as exc:
                raise InputError(f"cannot save {where}: {exc}") from None
            looks_like_name = Path(text).name == text and not text.endswith(".safetensors") and not Path(text).is_file()
            params["weights"] = text if looks_like_name else os.fspath(Path(path).resolve())
            params["__weights_sha256__"] = sha256_file(path)
            params["__weights_tensor_sha256__"] = tensor_sha256(path)
    else:
        raise InputError(
            f"cannot save {where}: its weights are an in-memory {type(weights).__name__}; save the network "
            "with ddriqa.models.weights.save_weights(model, 'net.safetensors') and build the classifier "
            "with weights='net.safetensors'"
        )
    return params


def model_path(path):
    """The file :func:`save_classifier` writes for ``path``: ``path`` itself when it ends in
    ``.npz``, else ``path`` with ``.npz`` appended (found by :func:`load_classifier` either way).

    Examples
    --------
    >>> from ddriqa.classification.persistence import model_path
    >>> model_path("noext_model").name, model_path("m.npz").name
    ('noext_model.npz', 'm.npz')
    """
    path = Path(os.fspath(path))
    return path if path.suffix == _SUFFIX else path.with_name(path.name + _SUFFIX)


def save_classifier(model, path):
    """Save a fitted classifier (pipeline) to a single ``.npz`` file, without pickle.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~sklearn.pipeline.Pipeline` (or single estimator) built from
        :data:`ALLOWED_CLASSES` (GridSearchCV is stored as its ``best_estimator_``).
    path : str or os.PathLike
        Output file; ``.npz`` is appended when missing.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ddriqa.errors.InputError
        The model holds something that cannot be stored safely (an unsupported estimator, an
        in-memory network, an object array).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklearn.svm import SVC
    >>> X = np.random.default_rng(0).normal(size=(20, 3)); y = np.repeat([0, 1], 10)
    >>> clf = SVC().fit(X, y)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = load_classifier(save_classifier(clf, os.path.join(d, "m.npz")))
    ...     bool((back.predict(X) == clf.predict(X)).all())
    True
    """
    import sklearn

    import ddriqa

    enc = _Encoder()
    record = enc.estimator(model)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "ddriqa_version": ddriqa.__version__,
        "sklearn_version": sklearn.__version__,
        "model": record,
        "info": enc.info,
    }
    text = json.dumps(meta, allow_nan=True, sort_keys=True)
    path = model_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **{_META_KEY: np.array(text)}, **enc.arrays)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------- decoding
#: parameters that hold an unfitted estimator *template* (cloned by the meta-estimator's fit):
#: they are stored and loaded without fitted attributes
_TEMPLATE_PARAMS = {"CropVoteClassifier": ("estimator",)}


class _Decoder:
    def __init__(self, path, archive):
        self.path = path
        self.archive = archive
        self.used = set()
        self._in_template = 0

    def fail(self, reason):
        raise ModelFileError(self.path, reason)

    def value(self, value, where):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            if len(value) != 1:
                self.fail(f"{where}: unexpected JSON object with keys {sorted(value)}")
            (tag, inner), = value.items()
            if tag == "__tuple__" and isinstance(inner, list):
                return tuple(self.value(v, f"{where}[{i}]") for i, v in enumerate(inner))
            if tag == "__dict__" and isinstance(inner, dict):
                return {str(k): self.value(v, f"{where}.{k}") for k, v in inner.items()}
            if tag == "__estimator__" and isinstance(inner, dict):
                return self.estimator(inner, where)
            if tag == "__array__" and isinstance(inner, str):
                return self.array(inner, where)
            self.fail(f"{where}: unexpected JSON object tagged {tag!r}")
        self.fail(f"{where}: unexpected JSON value of type {type(value).__name__}")

    def array(self, key, where):
        if not re.fullmatch(r"a\d+", key) or key not in self.archive.files:
            self.fail(f"{where}: refers to a missing array {key!r}")
        try:
            arr = self.archive[key]
        except ValueError as exc:  # object arrays need pickle: refused
            self.fail(f"{where}: array {key!r} cannot be read without pickle ({exc})")
        if arr.dtype.kind not in "biufU":
            self.fail(f"{where}: array {key!r} has unsupported dtype {arr.dtype}")
        self.used.add(key)
        return arr

    def estimator(self, record, where="model"):
        if not isinstance(record, dict) or set(record) != {"class", "params", "fitted"}:
            self.fail(f"{where}: malformed estimator record (expected keys class, params, fitted)")
        name = record["class"]
        if not isinstance(name, str) or name not in ALLOWED_CLASSES:
            self.fail(
                f"{where}: class {name!r} is not allowed (allowed: {', '.join(sorted(ALLOWED_CLASSES))})"
            )
        entry = ALLOWED_CLASSES[name]
        try:
            cls = getattr(importlib.import_module(entry.module), name)
        except (ImportError, AttributeError) as exc:
            self.fail(f"{where}: {name} is not available in this installation ({exc})")
        params, fitted = record["params"], record["fitted"]
        if not isinstance(params, dict) or not isinstance(fitted, dict):
            self.fail(f"{where}: params and fitted must be JSON objects")
        params = dict(params)
        sha = None  # for a DDRExtractor: (file digest, tensor digest), either may be absent
        if name == "DDRExtractor":
            sha = (params.pop("__weights_sha256__", None), params.pop("__weights_tensor_sha256__", None))
        allowed_params = set(inspect.signature(cls).parameters) - {"self"}
        unknown = sorted(set(params) - allowed_params)
        if unknown:
            self.fail(f"{where}: unknown parameters for {name}: {unknown}")
        kwargs = {}
        for k, v in params.items():
            template = k in _TEMPLATE_PARAMS.get(name, ())
            self._in_template += template
            try:
                kwargs[k] = self.value(v, f"{where}.{k}")
            finally:
                self._in_template -= template
        if name == "DDRExtractor":
            self._check_ddr_weights(kwargs, sha, where)
        try:
            est = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            self.fail(f"{where}: cannot build {name}: {exc}")
        if entry.fitted is None:
            if fitted:
                self.fail(f"{where}: {name} is stateless but the file holds fitted attributes {sorted(fitted)}")
        else:
            unknown = sorted(set(fitted) - set(entry.fitted))
            if unknown:
                self.fail(f"{where}: attributes not allowed for {name}: {unknown}")
            if self._in_template:
                if fitted:
                    self.fail(f"{where}: an estimator template ({name}) must not hold fitted attributes")
                return est
            if entry.fitted and not fitted:
                self.fail(f"{where}: {name} has no fitted attributes (was it fitted before saving?)")
            for attr, v in fitted.items():
                setattr(est, attr, self.value(v, f"{where}.{attr}"))
        entry.check(est, _Check(self, where, fitted))
        return est

    def _check_ddr_weights(self, kwargs, sha, where):
        weights = kwargs.get("weights")
        if not isinstance(weights, str):
            self.fail(f"{where}: DDRExtractor weights must be a name or a path string")
        if weights in ("random", "random_rrdbnet"):
            return
        from ddriqa.models.weights import resolve_weights, sha256_file

        path = resolve_weights(weights)  # ModelFileError naming the weights when missing
        file_sha, tensor_sha = sha
        if tensor_sha is not None:  # the tensors decide: a file rewritten by another safetensors version is the same network
            from ddriqa.models.weights import tensor_sha256

            try:
                actual = tensor_sha256(path)
            except Exception as exc:  # noqa: BLE001 - any unreadable file is refused, never unpickled
                self.fail(f"{where}: the weights file {path} is not a readable safetensors file ({exc}), so its "
                          "tensor sha256 cannot match the network the classifier was trained with")
            if actual != tensor_sha:
                self.fail(
                    f"{where}: the weights file {path} holds other tensors than the network the classifier "
                    "was trained with (tensor sha256 mismatch)"
                )
        elif file_sha is not None and sha256_file(path) != file_sha:
            self.fail(
                f"{where}: the weights file {path} differs from the one the classifier was trained with "
                "(sha256 mismatch)"
            )


def classifier_file(name_or_path):
    """The file :func:`load_classifier` reads for ``name_or_path``.

    In order: the path itself; the path with ``.npz`` appended (what :func:`save_classifier`
    writes for a name without it, so ``save_classifier(m, "model")`` and
    ``load_classifier("model")`` agree); a shipped classifier ``<name>.npz`` in
    :func:`classifiers_dir`.

    Raises
    ------
    ddriqa.errors.ModelFileError
        None of them is a file.
    """
    return _resolve_classifier_path(name_or_path)


def _resolve_classifier_path(name_or_path):
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.is_file():
        return path
    if not text.endswith(_SUFFIX) and Path(text + _SUFFIX).is_file():
        return Path(text + _SUFFIX)
    if re.fullmatch(r"[A-Za-z0-9_.-]+", text) and not text.endswith(_SUFFIX):
        candidate = classifiers_dir() / (text + _SUFFIX)
        if candidate.is_file():
            return candidate
        names = shipped_classifiers()
        listed = ", ".join(names) if names else f"none shipped yet in {classifiers_dir()}"
        raise ModelFileError(text, f"no such classifier file or shipped classifier name (shipped: {listed})")
    raise ModelFileError(path, "no such classifier file")


def load_classifier(path):
    """Load a classifier saved by :func:`save_classifier`, or a shipped one by name.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` file, or the name of a shipped classifier (a file ``<name>.npz`` in
        :func:`classifiers_dir`, e.g. ``"brisque_kodak"``).

    Returns
    -------
    estimator
        The fitted classifier (GridSearchCV steps come back as their best estimator).

    Raises
    ------
    ddriqa.errors.ModelFileError
        Missing file, not a classifier archive (e.g. a pickle), unsupported version, a class
        outside the allow-list, unknown parameters or attributes, or inconsistent arrays.
    """
    path = _resolve_classifier_path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ModelFileError(path, f"not a ddriqa classifier file (refusing to unpickle): {exc}") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read the file: {exc}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ModelFileError(path, "not a ddriqa classifier file (a bare .npy array, expected an .npz archive)")
    with archive:
        if _META_KEY not in archive.files:
            raise ModelFileError(path, f"not a ddriqa classifier file (no {_META_KEY} entry)")
        try:
            raw = archive[_META_KEY]
            meta = json.loads(str(raw[()]))
        except (ValueError, TypeError) as exc:
            raise ModelFileError(path, f"the model description is not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(path, f"not a {FORMAT} file")
        if meta.get("version") != VERSION:
            raise ModelFileError(
                path, f"unsupported format version {meta.get('version')!r} (this ddriqa reads version {VERSION})"
            )
        dec = _Decoder(path, archive)
        try:
            model = dec.estimator(meta.get("model"))
        except ModelFileError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise ModelFileError(path, f"malformed model description: {exc}") from None
        extra = sorted(set(archive.files) - dec.used - {_META_KEY})
        if extra:
            raise ModelFileError(path, f"unreferenced arrays in the archive: {extra[:5]}")
    return model


def classifier_info(path):
    """The ``info`` record of a classifier file, without building the model.

    For a model saved with a grid search (the paper head's C, BRISQUE's C and gamma, the pooled
    head's C), ``info["grid_search"]`` maps the search's place in the model
    (``"model.steps[1][1]"``: the second step of the top pipeline) to ``best_params``,
    ``best_score``, ``n_splits``, ``candidates`` and ``mean_test_score``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` file or a shipped classifier's name.

    Returns
    -------
    dict

    Raises
    ------
    ddriqa.errors.ModelFileError
        Missing file or not a classifier archive.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ddriqa.classification.pipelines import ddr_svm
    >>> X = np.random.default_rng(0).normal(size=(20, 3)); y = np.repeat([0, 1], 10); X[y == 1, 0] += 3
    >>> head = ddr_svm(C_grid=[0.1, 10.0]).fit(X, y, svm__groups=np.arange(20) % 4)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     info = classifier_info(save_classifier(head, os.path.join(d, "m.npz")))
    >>> info["grid_search"]["model.steps[1][1]"]["best_params"], info["grid_search"]["model.steps[1][1]"]["n_splits"]
    ({'C': 0.1}, 4)
    """
    path = _resolve_classifier_path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive[_META_KEY][()]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(path, f"not a ddriqa classifier file ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(path, f"not a {FORMAT} file")
    info = meta.get("info", {})
    return info if isinstance(info, dict) else {}

