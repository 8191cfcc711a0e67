"""Results bundle: the folder that ``analyze`` writes and the views read.

A bundle is a plain folder (see ``docs/architecture.md`` for every file and key)::

    config.toml      analysis settings
    manifest.json    format, versions, input checksums, timings, file checksums
    metrics.json     accuracies and epoch curves
    dataset.json     what was analysed
    <stem>.npz       arrays (saliency, windows, graphs, transfer, fusion, ...)
    weights/<name>.pt  model state_dicts

Nothing in a bundle is a pickle: arrays are saved with ``allow_pickle=False``
(strings as fixed-width unicode) and weights are loaded with
``torch.load(..., weights_only=True)``. Writes are atomic: the bundle is
written to a temporary sibling folder and renamed into place, so a crash
never leaves a half-written bundle under the final name.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import pickle  # only for its exception type: nothing is ever unpickled
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import numpy as np

from eegfmri_viewer import __version__
from eegfmri_viewer.atomic_write import atomic_folder, check_output_folder, replaceable_bundle
from eegfmri_viewer.io.errors import InputError

FORMAT = "eegfmri_viewer.results"
#: 2 added the salient connections, ``fmri_class_activity`` and each band's graph;
#: 3 the corrected coupling p-values (``*_p_value_fwer``) and each recording's EEG
#: power-BOLD correlation (``recording_lagged_r``, for before / after tests);
#: 4 each recording's subject (``recording_subject``, for paired tests) and the
#: coupling's time courses (``timecourses.npz``); 5 each phase-1 model's test
#: predictions (``windows.npz`` ``fmri_pred`` / ``eeg_pred``), confusion matrix and
#: block permutation test against chance (``metrics.json``).
#: Older bundles still load (the views say what they lack).
FORMAT_VERSION = 5
_JSON_FILES = ("metrics", "dataset")


class BundleError(InputError):
    """A results folder is missing, incomplete, corrupted or of another format.

    The message names the folder or file and the problem.
    """


@dataclass
class ResultsBundle:
    """Everything an analysis produced, in memory.

    Parameters
    ----------
    config : dict
        Analysis settings (the content of ``config.toml``).
    metrics : dict
        Accuracies and epoch curves (``metrics.json``).
    dataset : dict
        Description of the analysed recordings (``dataset.json``).
    arrays : dict of str to dict of str to ndarray
        ``arrays[stem][key]`` is the array ``key`` of ``stem.npz``.
    weights : dict of str to dict
        Model ``state_dict`` per name (written to ``weights/<name>.pt``).
    manifest : dict
        Extra manifest entries (input checksums, timings); the format
        fields and file checksums are added on save.
    path : Path or None
        Folder the bundle was loaded from or saved to.
    """

    config: Dict[str, Any] = field(default_factory=dict)
    metrics: Dict[str, Any] = field(default_factory=dict)
    dataset: Dict[str, Any] = field(default_factory=dict)
    arrays: Dict[str, Dict[str, np.ndarray]] = field(default_factory=dict)
    weights: Dict[str, Mapping[str, Any]] = field(default_factory=dict)
    manifest: Dict[str, Any] = field(default_factory=dict)
    path: Optional[Path] = None

    def has(self, stem: str, key: Optional[str] = None) -> bool:
        """Whether ``stem.npz`` (and, if given, its array ``key``) is present."""
        if stem not in self.arrays:
            return False
        return key is None or key in self.arrays[stem]

    def get(self, stem: str, key: str, default: Any = None) -> Any:
        """Array ``key`` of ``stem.npz``, or ``default`` when absent."""
        return self.arrays.get(stem, {}).get(key, default)

    @property
    def classes(self) -> list:
        """Class (brain state) names, in label order."""
        return [str(c) for c in self.get("saliency", "classes", np.array([], dtype=str))]

    @property
    def bands(self) -> list:
        """EEG band names, in array order."""
        return [str(b) for b in self.get("saliency", "bands", np.array([], dtype=str))]

    @property
    def has_eeg(self) -> bool:
        """Whether the bundle holds EEG results (False for fMRI-only runs)."""
        return self.has("saliency", "eeg_cam")

    @property
    def has_phase2(self) -> bool:
        """Whether phase 2 (GAT, cross-view attention, fusion) ran."""
        return self.has("fusion")

    @property
    def label(self) -> str:
        """Short human-readable name of what was analysed."""
        return str(self.dataset.get("label") or (self.path.name if self.path else "results"))


def _as_savable(key: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object:
        # Object arrays would need pickling; strings are stored fixed-width.
        if not all(isinstance(v, (str, np.str_)) for v in arr.flat):
            raise TypeError(f"array {key!r} has objects that are not strings")
        arr = arr.astype(str)
    return arr


def file_sha256(path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _versions() -> Dict[str, str]:
    versions = {"python": sys.version.split()[0], "numpy": np.__version__}
    # Only report libraries that are already loaded: importing torch or mne
    # here just to read a version string would slow every save.
    for name in ("scipy", "torch", "torch_geometric", "mne", "nilearn", "nibabel", "sklearn"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "unknown"))
    return versions


def _write_toml(path: Path, data: Mapping[str, Any]) -> None:
    import tomli_w

    with open(path, "wb") as fh:
        tomli_w.dump(_toml_clean(data), fh)


def _toml_clean(value: Any) -> Any:
    # TOML has no null and no numpy types.
    if isinstance(value, Mapping):
        return {str(k): _toml_clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_clean(v) for v in value if v is not None]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _read_toml(path: Path) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def strict_json(value: Any) -> Any:
    """``value`` with NaN and infinities as None, so that the file is standard JSON (``null``)."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


#: ``metrics.json`` keys whose values are numbers (or lists of numbers): there ``null`` was NaN.
_NUMERIC_KEY_ENDINGS = ("acc", "loss", "monitor", "p_value")


def _nan_for_null(value: Any, numeric: bool = False) -> Any:
    """The inverse of :func:`strict_json` for the numbers of ``metrics.json`` (accuracies, losses, p-values).

    Other ``null`` values stay None.
    """
    if isinstance(value, dict):
        return {k: _nan_for_null(v, str(k).endswith(_NUMERIC_KEY_ENDINGS)) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_for_null(v, numeric) for v in value]
    return float("nan") if value is None and numeric else value


def _write_json(path: Path, data: Any) -> None:
    # Python would write NaN, which JSON readers of other languages refuse
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(strict_json(data), fh, indent=2, default=_json_default, allow_nan=False)
        fh.write("\n")


def _recorded_inputs(manifest: Any, dataset: Any) -> list:
    """The input paths recorded in a bundle's manifest (``input_files``) and dataset (``source``)."""
    files = manifest.get("input_files") if isinstance(manifest, dict) else None
    inputs = [Path(p) for p in (files if isinstance(files, dict) else {}) if isinstance(p, str) and p]
    source = dataset.get("source") if isinstance(dataset, dict) else None
    if isinstance(source, str) and source and Path(source).is_absolute():
        inputs.append(Path(source))
    return inputs


def bundle_inputs(bundle: ResultsBundle) -> list:
    """The input data a bundle was computed from: its input files and, for a BIDS root, that folder.

    A bundle is never written onto, around or inside these.
    """
    return _recorded_inputs(bundle.manifest, bundle.dataset)


def read_bundle_inputs(folder) -> list:
    """:func:`bundle_inputs` of the bundle in ``folder``, read from its JSON files only.

    For commands that read bundles and write elsewhere (``report``,
    ``tables``, ``compare``): their output must stay out of the data the
    bundles were computed from, checked before the arrays are loaded. A
    missing or unreadable ``manifest.json`` / ``dataset.json`` gives what the
    other file records (or nothing): loading the bundle reports the problem.

    Parameters
    ----------
    folder : str or Path
        A results bundle folder.

    Returns
    -------
    inputs : list of Path
        The recorded input files and, for a BIDS root, that folder.
    """
    parsed = []
    for name in ("manifest.json", "dataset.json"):
        try:
            parsed.append(json.loads((Path(folder).expanduser() / name).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            parsed.append(None)
    return _recorded_inputs(*parsed)


def check_bundle_destination(path, force: bool = False, inputs=(), force_name: str = "--force",
                             out_name=None) -> Path:
    """Check, before any work, that a results bundle may be written to ``path``.

    ``force`` replaces only an earlier results bundle (a folder with
    ``manifest.json`` and nothing else) or an empty folder; ``path`` must not
    be, contain or lie inside any of ``inputs`` (nor lie inside the folder
    that holds an input file: loose BOLD / EEG / events files), and must be
    creatable. ``force_name`` is what the messages call ``force`` (the GUI
    names its box), ``out_name`` where the folder is chosen (``"--out"``, or
    the GUI's field).

    Returns
    -------
    path : Path
        ``path`` resolved.

    Raises
    ------
    InputError
        Naming the folder and why it is refused.
    """
    return check_output_folder(path, force=force, replaceable=replaceable_bundle, inputs=inputs,
                               what="results folder", force_name=force_name, out_name=out_name)


def save_bundle(path, bundle: ResultsBundle, force: bool = False) -> Path:
    """Write ``bundle`` to the folder ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        Destination folder.
    bundle : ResultsBundle
        What to write.
    force : bool
        Replace an existing results bundle (or empty folder) at ``path``.
        Without it an existing folder is an error and is left untouched.
        Any other folder, and a ``path`` that is, contains or lies inside the
        bundle's input data (:func:`bundle_inputs`), is refused even with it.

    Returns
    -------
    path : Path
        The folder written; ``bundle.path`` is set to it as well.

    Raises
    ------
    InputError
        ``path`` may not be written (the message says why); nothing is changed.
    """
    path = Path(path).resolve()
    if path.exists() and not force:
        raise BundleError(path, "already exists; choose another folder or use --force to replace it")
    inputs = bundle_inputs(bundle)
    with atomic_folder(path, force=force, replaceable=replaceable_bundle, inputs=inputs,
                       what="results folder") as tmp:
        _write_toml(tmp / "config.toml", bundle.config)
        for name in _JSON_FILES:
            _write_json(tmp / f"{name}.json", getattr(bundle, name))
        for stem, arrays in bundle.arrays.items():
            savable = {key: _as_savable(key, value) for key, value in arrays.items()}
            np.savez_compressed(tmp / f"{stem}.npz", **savable)
        if bundle.weights:
            import torch

            (tmp / "weights").mkdir()
            for name, state in bundle.weights.items():
                torch.save(dict(state), tmp / "weights" / f"{name}.pt")
        files = {
            p.relative_to(tmp).as_posix(): file_sha256(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        manifest = dict(bundle.manifest)
        manifest.update(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            app_version=__version__,
            created=manifest.get("created") or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            versions={**_versions(), **manifest.get("versions", {})},
            files=files,
        )
        _write_json(tmp / "manifest.json", manifest)
        bundle.manifest = manifest
    bundle.path = path
    return path


def load_bundle(path, verify: bool = True, load_weights: bool = False) -> ResultsBundle:
    """Read a results bundle written by :func:`save_bundle`.

    Parameters
    ----------
    path : str or Path
        The bundle folder.
    verify : bool
        Check every file against the SHA-256 sums in ``manifest.json``.
    load_weights : bool
        Also load the model state_dicts (imports torch).

    Returns
    -------
    bundle : ResultsBundle

    Raises
    ------
    BundleError
        When the folder is not a bundle, a file is missing or its checksum
        does not match, naming the file.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(path, "is not a folder (a results bundle is a folder written by 'eegfmri-viewer analyze')")
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise BundleError(path, "has no manifest.json; it is not a results bundle")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(manifest_path, f"cannot be read as JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise BundleError(manifest_path, f"holds a JSON {type(manifest).__name__}, expected an object")
    if manifest.get("format") != FORMAT:
        raise BundleError(manifest_path, f"format is {manifest.get('format')!r}, expected {FORMAT!r}")
    version = manifest.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise BundleError(manifest_path, f"format_version {version!r} is not a whole number")
    if version > FORMAT_VERSION:
        raise BundleError(
            manifest_path,
            f"format version {version} is newer than this app reads ({FORMAT_VERSION}); update eegfmri_viewer",
        )
    files = manifest.get("files", {})
    if not isinstance(files, dict):
        raise BundleError(manifest_path, f"'files' is a JSON {type(files).__name__}, expected an object "
                                         "of file name to SHA-256")
    inside = path.resolve()
    for rel, digest in files.items():
        file_path = path / rel
        if inside not in (path / rel).resolve().parents:
            raise BundleError(manifest_path, f"lists {rel!r}, which is outside the bundle folder")
        if not file_path.is_file():
            raise BundleError(file_path, "is listed in manifest.json but missing")
        if verify and file_sha256(file_path) != digest:
            raise BundleError(file_path, "checksum does not match manifest.json (the file was changed or is corrupted)")
    try:
        config = _read_toml(path / "config.toml") if (path / "config.toml").is_file() else {}
    except (OSError, ValueError) as exc:
        raise BundleError(path / "config.toml", f"is not valid TOML ({exc})") from exc
    bundle = ResultsBundle(config=config, manifest=manifest, path=path)
    for name in _JSON_FILES:
        json_path = path / f"{name}.json"
        if json_path.is_file():
            try:
                content = json.loads(json_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise BundleError(json_path, f"cannot be read as JSON ({exc})") from exc
            if not isinstance(content, dict):
                raise BundleError(json_path, f"holds a JSON {type(content).__name__}, expected an object")
            setattr(bundle, name, _nan_for_null(content) if name == "metrics" else content)
    for npz_path in sorted(path.glob("*.npz")):
        try:
            data = np.load(npz_path, allow_pickle=False)
            if not hasattr(data, "files"):
                raise ValueError("holds a single array, not an .npz archive")
            with data:
                bundle.arrays[npz_path.stem] = {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            # ValueError covers object arrays, which allow_pickle=False refuses to unpickle.
            raise BundleError(npz_path, f"cannot be read ({type(exc).__name__}: {exc})") from exc
    if load_weights:
        bundle.weights = load_weights_from(path)
    return bundle


def load_weights_from(path) -> Dict[str, Dict[str, Any]]:
    """Load every ``weights/<name>.pt`` state_dict of a bundle (no pickles)."""
    import torch

    weights = {}
    for pt in sorted((Path(path) / "weights").glob("*.pt")):
        try:
            weights[pt.stem] = torch.load(pt, map_location="cpu", weights_only=True)
        except MemoryError:
            raise
        except pickle.UnpicklingError as exc:
            # torch's own message suggests weights_only=False, which would run the file's code.
            raise BundleError(pt, "holds Python objects besides tensors; refused (weights are never unpickled)") from exc
        except Exception as exc:  # RuntimeError / EOFError / zip errors for cut or foreign files
            raise BundleError(pt, f"is corrupted or not a PyTorch weights file ({type(exc).__name__})") from exc
    return weights
