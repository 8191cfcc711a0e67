"""Atomic, guarded creation of output folders and files.

Outputs are first written under a temporary sibling name and renamed into
place, so a crash or a cancelled run never leaves a half-written result under
the final name, and an existing result is only replaced once the new one is
complete.

Replacing is guarded here, in the writers every caller (command line and GUI)
goes through: an output never is, contains or lies inside the input data (nor
the folder that holds an input file, or the BIDS dataset around it; see
:func:`check_not_input` for the folders too general to count), and
``force`` only replaces a folder of the kind being written (or an empty one),
never anything else. The final folder or file gets the permissions the user's
umask gives (the temporary names are created private, 0700 / 0600).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from eegfmri_viewer.io.errors import InputError

#: ``manifest.json`` ``format`` of a results bundle (kept here, not imported
#: from :mod:`eegfmri_viewer.results`, which imports this module).
BUNDLE_FORMAT = "eegfmri_viewer.results"
#: The files a comparison output folder holds.
COMPARE_FILES = frozenset({"compare.npz", "compare.json"})

#: ``replaceable(path)`` returns None when ``force`` may replace the existing
#: folder ``path``, else the reason it may not (completing "... is ...").
Replaceable = Callable[[Path], Optional[str]]

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask (read without changing it where the OS allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _entries(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir())


def _listing(names, limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _bundle_manifest(folder: Path) -> Optional[dict]:
    """The parsed ``manifest.json`` of a results bundle in ``folder``, else None."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(manifest, dict) and manifest.get("format") == BUNDLE_FORMAT:
        return manifest
    return None


def is_results_bundle(folder) -> bool:
    """Whether ``folder`` holds a results bundle (a ``manifest.json`` of that format)."""
    return _bundle_manifest(Path(folder)) is not None


def replaceable_bundle(folder: Path) -> Optional[str]:
    """None when ``folder`` is a results bundle and holds nothing else; else why not."""
    manifest = _bundle_manifest(folder)
    if manifest is None:
        return "not a results bundle (no manifest.json written by 'eegfmri-viewer analyze')"
    files = manifest.get("files", {})
    own = {"manifest.json"} | {str(rel).split("/")[0] for rel in (files if isinstance(files, dict) else {})}
    extra = [name for name in _entries(folder) if name not in own]
    if extra:
        return f"a results bundle that also holds other files ({_listing(extra)})"
    return None


def replaceable_comparison(folder: Path) -> Optional[str]:
    """None when ``folder`` holds only a comparison's ``compare.npz`` / ``compare.json``."""
    names = _entries(folder)
    if not any(n in COMPARE_FILES for n in names):
        return "not a comparison output (no compare.npz or compare.json)"
    extra = [n for n in names if n not in COMPARE_FILES]
    if extra:
        return f"a comparison output that also holds other files ({_listing(extra)})"
    return None


def replaceable_app_output(folder: Path) -> Optional[str]:
    """None for a folder this app writes whole: a results bundle, a comparison, a demo dataset."""
    if replaceable_bundle(folder) is None or replaceable_comparison(folder) is None:
        return None
    from eegfmri_viewer.demo.generate import looks_like_demo

    if looks_like_demo(folder):
        return None
    return "not a folder this app wrote (a results bundle, a comparison or a demo dataset)"


def enclosing_bundle(path) -> Optional[Path]:
    """The results bundle folder that is ``path`` or holds it, else None."""
    path = Path(path).expanduser().resolve()
    for folder in (path, *path.parents):
        if folder.is_dir() and is_results_bundle(folder):
            return folder
    return None


def _nearest_existing(path: Path) -> Path:
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return Path(path.anchor)


def _refuse_inside_bundle(path: Path, what: str) -> None:
    """A results bundle holds what ``analyze`` wrote and nothing else (a later ``--force`` would refuse it)."""
    outer = enclosing_bundle(path.parent)
    if outer is not None:
        raise InputError(path, f"lies inside the results bundle {outer}; write the {what} elsewhere "
                               "(a bundle holds only what 'analyze' wrote)")


def check_creatable(path, what: str = "output folder", inputs: Iterable = ()) -> Path:
    """Check that ``path`` can be created: its nearest existing ancestor is a writable folder.

    The check writes (and removes) a probe folder there, unless that folder is
    one of ``inputs`` or lies inside one (a BIDS root's ``derivatives/``): the
    input data are not touched, the permission bits are trusted instead.

    Returns
    -------
    path : Path
        ``path`` resolved.

    Raises
    ------
    InputError
        Naming ``path`` and the reason (a file where a folder is needed, a
        folder that is not writable).
    """
    path = Path(path).expanduser().resolve()
    parent = _nearest_existing(path.parent)
    if not parent.is_dir():
        raise InputError(path, f"cannot create the {what} ({parent} is a file, not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(path, f"cannot create the {what} ({parent} is not writable)")
    resolved_inputs = [Path(i).expanduser().resolve() for i in inputs if i is not None]
    if any(parent == i or i in parent.parents for i in resolved_inputs):
        return path
    try:
        # os.access trusts the permission bits; a probe also catches read-only
        # mounts and pseudo file systems (/proc), and root's bypass of the bits.
        os.rmdir(tempfile.mkdtemp(prefix=f".{path.name}.write-test-", dir=parent))
    except OSError as exc:
        raise InputError(path, f"cannot create the {what} in {parent} ({exc.strerror or exc})") from exc
    return path


#: Derivatives that the readers take input from (io/bids.py): never an output's place.
INPUT_DERIVATIVES = ("fmriprep",)


def _looks_like_bids_root(folder: Path) -> bool:
    if not folder.is_dir() or is_results_bundle(folder):
        return False
    return (folder / "dataset_description.json").is_file() or any(folder.glob("sub-*"))


def _in_derivatives(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in ``root/derivatives/<pipeline>/`` of a BIDS root, where BIDS puts analyses' outputs.

    The derivatives the readers take as input (fMRIPrep's) are not such a place,
    and neither is a folder of that name inside anything but a BIDS root (a
    results bundle, say).
    """
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    return (len(parts) >= 2 and parts[0] == "derivatives" and parts[1].lower() not in INPUT_DERIVATIVES
            and _looks_like_bids_root(root))


def _is_dataset(folder: Path) -> bool:
    """Whether ``folder`` is a BIDS dataset by its ``dataset_description.json``.

    Stricter than :func:`_looks_like_bids_root`, whose ``sub-*`` would match a
    plain folder of loose ``sub-01_..._bold.nii.gz`` files.
    """
    return (folder / "dataset_description.json").is_file() and not is_results_bundle(folder)


def _dataset_of(file: Path) -> Optional[Path]:
    """The BIDS dataset (nearest folder with ``dataset_description.json``) that holds ``file``, else None."""
    return next((folder for folder in file.parents if _is_dataset(folder)), None)


def _subjects_root_of(file: Path) -> Optional[Path]:
    """The folder above the ``sub-<label>`` folder on the path of ``file`` that names it, else None.

    A file in ``<root>/sub-01/func/`` belongs to a BIDS-like dataset ``<root>``
    even without ``dataset_description.json`` (a copied or hand-made one). The
    subject folder must name the file (``sub-01_...``), as BIDS names it, so
    that a folder merely called ``sub-projects`` does not make its parent a dataset.
    """
    subjects = [folder for folder in file.parents
                if folder.name.startswith("sub-") and file.name.startswith(folder.name + "_")]
    return subjects[-1].parent if subjects else None


def _too_general(folder: Path) -> bool:
    """Whether ``folder`` holds too much besides the input data to be protected as a whole.

    A file directly in the home folder, the temporary folder, a file system's
    root or a mount point says nothing about the rest of that folder: only the
    file itself is input data then.
    """
    general = {Path.home().resolve(), Path(tempfile.gettempdir()).resolve()}
    return folder in general or folder == Path(folder.anchor) or os.path.ismount(folder)


def _in_file_folder_derivatives(path: Path, folder: Path) -> bool:
    """:func:`_in_derivatives` for the folder of an input file: only a folder that is a BIDS dataset has them."""
    return _is_dataset(folder) and _in_derivatives(path, folder)


def _file_folders(inp: Path) -> list:
    """``(folder, relation)`` for each folder an input file protects, nearest first.

    Its own folder and the folder above the ``sub-<label>`` folder that names it, unless
    too general (:func:`_too_general`), and the BIDS dataset that holds it
    (any of them with ``dataset_description.json`` is named a dataset).
    """
    folders = []
    for folder in (inp.parent, _subjects_root_of(inp), _dataset_of(inp)):
        if folder is None or any(folder == known for known, _ in folders):
            continue
        if _is_dataset(folder):
            folders.append((folder, "dataset"))
        elif not _too_general(folder):
            folders.append((folder, "folder"))
    return folders


def _folder_advice(inp: Path, where: str, file_folder: bool = False) -> str:
    """Where to write instead of into ``inp`` (a folder outside it; for a BIDS root its derivatives too).

    ``inp`` is an input folder, an input file standing for its folder, or
    (``file_folder``) a folder protected for an input file in it, which has
    derivatives only as a BIDS dataset.
    """
    if inp.is_file():
        folder, has_derivatives = inp.parent, _is_dataset(inp.parent)
    elif file_folder:
        folder, has_derivatives = inp, _is_dataset(inp)
    else:
        folder, has_derivatives = inp, _looks_like_bids_root(inp)
    advice = f"choose a folder outside {folder}{where}"
    if has_derivatives:
        advice += ", or one in its derivatives/<name>/"
    return advice


def check_not_input(path, inputs: Iterable = (), what: str = "output", out_name: Optional[str] = None,
                    whole: bool = True) -> Path:
    """Refuse an output that is, contains or lies inside one of ``inputs``.

    An input file stands for the folder that holds it as well: loose files
    (``analyze --bold FILE --events FILE``) are the input data of the folder
    they lie in, so an output may not lie inside that folder either (the
    folder itself contains the file, so it is refused as such), nor inside
    the BIDS dataset that holds the file: the nearest folder with
    ``dataset_description.json``, and the folder above the ``sub-<label>``
    folder on the file's path that names the file (``sub-01_...``, as BIDS
    does). This is decided from the paths
    alone, never from the folder's permissions, so it holds for root too.

    The file's own folder and the ``sub-*`` root are not protected when they
    are the home folder, the temporary folder, a file system's root or a mount
    point: an input ``~/bold.nii.gz`` says nothing of ``~/results``, so only
    the file itself (and an output that is or contains it) is refused then.

    A folder inside a BIDS root's ``derivatives/<pipeline>/`` is allowed (BIDS
    keeps the outputs of analyses there), but not in ``derivatives/fmriprep``,
    which the readers take input from, nor in a ``sub-*`` root without
    ``dataset_description.json``.

    Parameters
    ----------
    path : str or Path
        The output folder or file.
    inputs : iterable of str or Path
        Input folders and files (a BIDS root, the recordings, input bundles).
    what : str
        What the output is, for the message.
    out_name : str, optional
        What the user sets the output with (``"--out"``, or the GUI's field),
        for the advice in the message.
    whole : bool
        Whether the output replaces ``path`` as a whole (a folder or file
        written by a rename), so that holding an input would destroy it. When
        False (files written into a folder that is kept), a ``path`` holding
        inputs further down is allowed, but not an input folder itself nor a
        folder an input file protects.
    """
    path = Path(path).expanduser().resolve()
    found = {}
    for item in inputs:
        if item is None:
            continue
        inp = Path(item).expanduser().resolve()
        if path == inp:
            found.setdefault("is", inp)
        elif inp in path.parents and not _in_derivatives(path, inp):
            found.setdefault("lies inside", inp)
        elif path in inp.parents and whole:
            found.setdefault("contains", inp)
        elif inp.is_file():
            for folder, relation in _file_folders(inp):
                if ((folder in path.parents or (folder == path and not whole))
                        and not _in_file_folder_derivatives(path, folder)):
                    key = "lies inside the folder of" if relation == "folder" else "lies inside the dataset of"
                    found.setdefault(key, (folder, inp))
    where = f" for {out_name}" if out_name else ""
    # the most direct relation names the problem best (a BIDS root rather than a file in it)
    for relation in ("is", "lies inside", "contains"):
        if relation in found:
            inp = found[relation]
            advice = (f"choose a folder{where} that does not hold the input data" if relation == "contains"
                      else _folder_advice(inp, where))
            raise InputError(path, f"{relation} the input {inp}; the {what} must be written outside "
                                   f"the input data ({advice})")
    if "lies inside the folder of" in found:
        folder, inp = found["lies inside the folder of"]
        relation = "is" if folder == path else f"lies inside {folder},"
        raise InputError(path, f"{relation} the folder that holds the input file {inp.name}; the {what} must be "
                               f"written outside the input data "
                               f"({_folder_advice(folder, where, file_folder=True)})")
    if "lies inside the dataset of" in found:
        dataset, inp = found["lies inside the dataset of"]
        relation = "is the BIDS dataset" if dataset == path else f"lies inside the BIDS dataset {dataset},"
        raise InputError(path, f"{relation} which holds the input file {inp.name}; "
                               f"the {what} must be written outside the input data "
                               f"({_folder_advice(dataset / 'dataset_description.json', where)})")
    return path


def check_output_folder(path, force: bool = False, replaceable: Optional[Replaceable] = None,
                        inputs: Iterable = (), what: str = "output folder", force_name: str = "--force",
                        out_name: Optional[str] = None) -> Path:
    """Everything :func:`atomic_folder` refuses, checked before any work is done.

    Parameters
    ----------
    path : str or Path
        Folder to write.
    force : bool
        Replace an existing folder, if ``replaceable`` accepts it (an empty
        folder always may be replaced).
    replaceable : callable, optional
        ``replaceable(folder)`` returns None when ``folder`` may be replaced,
        else the reason; :func:`replaceable_app_output` by default.
    inputs : iterable of str or Path
        The output must not be, contain or lie inside any of these.
    what : str
        What the folder is, for the messages ("results folder").
    force_name : str
        What the messages call ``force``: the command line's option, or the
        GUI's check box.
    out_name : str, optional
        What the messages call the place the folder is chosen in (``"--out"``,
        or the GUI's field).

    Returns
    -------
    path : Path
        ``path`` resolved.

    Raises
    ------
    InputError
        Naming the folder and why it is refused.
    """
    path = check_not_input(path, inputs, what, out_name=out_name)
    _refuse_inside_bundle(path, what)
    if path.exists():
        if not path.is_dir():
            raise InputError(path, f"is a file; choose a folder for the {what}")
        if not force:
            raise InputError(path, f"already exists; choose another folder or use {force_name} to replace it")
        if any(path.iterdir()):
            why = (replaceable or replaceable_app_output)(path)
            if why is not None:
                raise InputError(path, f"is {why}; {force_name} only replaces an earlier {what} or an empty folder, "
                                       "so it was left untouched (choose another folder)")
    return check_creatable(path, what, inputs)


def _apply_umask(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, mode & ~current_umask())


@contextlib.contextmanager
def atomic_folder(path, force: bool = False, replaceable: Optional[Replaceable] = None,
                  inputs: Iterable = (), what: str = "output folder") -> Iterator[Path]:
    """Yield a temporary folder that becomes ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or Path
        Final folder.
    force : bool
        Replace an existing folder that ``replaceable`` accepts (or an empty
        one). Without it an existing ``path`` raises :class:`InputError`
        before anything is written.
    replaceable, inputs, what
        See :func:`check_output_folder`; checked before the block runs.
    """
    path = check_output_folder(path, force=force, replaceable=replaceable, inputs=inputs, what=what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    except OSError as exc:
        raise InputError(path, f"cannot create the {what} ({exc.strerror or exc})") from exc
    try:
        yield tmp
        # mkdtemp makes the folder private (0700); the result gets the usual mode.
        _apply_umask(tmp, 0o777)
        if path.exists():
            # Re-checked: the folder may have changed while the block ran.
            check_output_folder(path, force=force, replaceable=replaceable, what=what)
            # Move the old folder aside first so that a failure in between
            # never leaves the user with neither version.
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            old.rmdir()
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_output_file(path, force: bool = False, inputs: Iterable = (), what: str = "output file",
                      outside_bundles: bool = True) -> Path:
    """Refuse writing the file ``path`` where it could destroy something.

    Never inside a results bundle (with ``outside_bundles``) or the inputs,
    never onto a folder, an existing file only with ``force``, and only where
    the file can be created.

    Returns
    -------
    path : Path
        ``path`` resolved.

    Raises
    ------
    InputError
        Naming the file and why it is refused.
    """
    path = check_not_input(path, inputs, what)
    if outside_bundles:
        _refuse_inside_bundle(path, what)
    if path.is_dir():
        raise InputError(path, f"is a folder; give a file name for the {what}")
    if path.exists() and not force:
        raise InputError(path, "already exists; choose another name or use --force to replace it")
    return check_creatable(path, what)


def check_files_folder(folder, what: str = "tables", inputs: Iterable = (), out_name: Optional[str] = None) -> Path:
    """Check a folder that files are written into (kept if it exists): never a results bundle or inside one.

    Nor one of ``inputs``, inside one, or a folder an input file protects
    (:func:`check_not_input`); a folder that holds input data further down is
    fine, as the files are only added to it. ``out_name`` is where the
    messages say to choose another folder (``"--out"``).

    Returns
    -------
    folder : Path
        ``folder`` resolved.

    Raises
    ------
    InputError
        ``folder`` is a file, is or lies inside a results bundle or the input
        data, or cannot be created.
    """
    folder = Path(folder).expanduser().resolve()
    bundle = enclosing_bundle(folder)
    if bundle is not None:
        relation = "is the results bundle" if bundle == folder else f"lies inside the results bundle {bundle}"
        raise InputError(folder, f"{relation}; choose another folder for the {what} "
                                 "(a bundle holds only what 'analyze' wrote)")
    check_not_input(folder, inputs, what, out_name=out_name, whole=False)
    if folder.exists():
        if not folder.is_dir():
            raise InputError(folder, f"is a file; choose a folder for the {what}")
        return folder
    return check_creatable(folder, f"folder for the {what}")


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The file gets the mode the umask gives a new file (``mkstemp`` makes it
    0600 first).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        _apply_umask(Path(tmp), 0o666)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
