"""Analysis settings: the schema of ``config.toml`` (see ``docs/config.md``).

:class:`AnalysisConfig` nests one dataclass per TOML table::

    [preprocessing]  EEG rate, reference, bands, atlas, windows, HRF delay
    [graph]          k-NN graphs and the EEG -> ROI transfer matrix
    [phase1]         Chebyshev GCNN and CAM saliency
    [training]       phase-1 optimisation, splits, level, seed
    [phase2]         GAT, cross-view attention and fusion (Phase2Config)
    [coupling]       lagged EEG-power / BOLD coupling (CouplingConfig)

:meth:`AnalysisConfig.from_toml` rejects unknown keys and wrong types with an
:class:`~eegfmri_viewer.io.errors.InputError` naming the file and the key, so a
typo never silently falls back to a default. Every table and key may be
omitted; omitted keys keep their defaults.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.pipeline.config_fields import choice_field, choice_problems
from eegfmri_viewer.pipeline.phase2_config import CouplingConfig, Phase2Config

DEFAULT_BANDS = [["delta", 1.0, 4.0], ["theta", 4.0, 8.0], ["alpha", 8.0, 13.0], ["beta", 13.0, 30.0],
                 ["gamma", 30.0, 45.0]]


@dataclass
class PreprocessingConfig:
    """``[preprocessing]``: from raw recordings to labelled windows.

    Attributes
    ----------
    eeg_sfreq : float
        Working EEG rate in Hz after early decimation.
    reference : str
        ``"average"`` (default), ``"none"`` or a channel name.
    bands : list of [name, low Hz, high Hz]
        EEG frequency bands.
    atlas : str
        ``"power2011"`` (default), ``"dosenbach2010"``, ``"seitzman2018"`` or the
        path of a label-atlas NIfTI in MNI space; a relative path in a config
        file is read from that file's folder (and saved with the results as an
        absolute path).
    radius_mm : float
        Sphere radius of coordinate atlases.
    confounds : bool
        Regress out the confounds table when the dataset has one.
    correct_artifacts : bool
        Gradient and pulse artefact correction when loading EEG recorded in
        the scanner.
    merge_gap_s : float
        Consecutive events of one trial type closer than this (seconds from
        the end of one to the onset of the next) form one block; per-stimulus
        event lists become blocks that windows fit in. Negative: never merge.
    windowing : str
        ``"blocks"`` (default, block designs): windows tile each block of a
        condition and belong to it when the block covers them whole;
        ``"events"`` (event-related designs): one window per event from its
        onset, whatever its duration; events closer than ``window_s`` to an
        event of another condition are left out (their windows would mix the
        two responses), and ``merge_gap_s`` and ``step_s`` are not used.
    window_s : float
        Window length in seconds (EEG and the BOLD window alike).
    step_s : float
        Step between window onsets within a block; 0 means ``window_s``
        (non-overlapping).
    hrf_delay_s : float
        Haemodynamic delay: the BOLD window is shifted this much after the EEG
        window.
    bold_scaling : str
        ``"subject"``: each ROI series is z-scored over all runs of a subject
        together, which keeps the differences of response amplitude between
        the subject's sessions (what a before / after comparison looks for);
        ``"run"``: z-scored per run.
    bad_channels : str
        What becomes of the EEG channels marked bad (``status`` "bad" in the
        recording's ``channels.tsv``, or in ``marked_bad``):
        ``"interpolate"`` (default) rebuilds each from the good channels of its
        recording by spherical splines (MNE's ``interpolate_bads``) before the
        re-reference, so every recording keeps the full montage;
        ``"drop"`` leaves them out, and a group analysis keeps only the
        channels that are good in every recording.
    marked_bad : table of {recording label: list of channel names}
        EEG channels to treat as bad besides those of ``channels.tsv``, per
        recording, e.g. ``"sub-01 ses-pre task-motor" = ["T7", "P8"]`` (the
        recording labels ``info`` prints). Channels marked in the Signals view
        reach the analysis this way, and ``config.toml`` in the results keeps
        them. The input files are not changed.
    fd_threshold_mm : float
        Motion censoring: windows whose BOLD volumes include one with a
        framewise displacement above this (mm; Power et al. 2012, from the
        run's fMRIPrep confounds), or whose EEG may have been recorded during
        such a movement, are left out. 0 (default) keeps every window; 0.5 is
        a common lenient choice, 0.2 a strict one.
    """

    eeg_sfreq: float = 250.0
    reference: str = "average"
    bands: list = field(default_factory=lambda: [list(b) for b in DEFAULT_BANDS])
    atlas: str = "power2011"
    radius_mm: float = 5.0
    confounds: bool = True
    correct_artifacts: bool = True
    merge_gap_s: float = 1.0
    windowing: str = choice_field("blocks", ("blocks", "events"))
    window_s: float = 6.0
    step_s: float = 0.0
    hrf_delay_s: float = 5.0
    bold_scaling: str = choice_field("subject", ("subject", "run"))
    bad_channels: str = choice_field("interpolate", ("interpolate", "drop"))
    marked_bad: dict = field(default_factory=dict)
    fd_threshold_mm: float = 0.0

    def problems(self) -> list:
        out = choice_problems(self)
        for label, names in self.marked_bad.items():
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                out.append(f"marked_bad: {label!r} must list channel names, got {names!r}")
        if self.eeg_sfreq <= 0:
            out.append(f"eeg_sfreq: must be > 0, got {self.eeg_sfreq}")
        if self.radius_mm <= 0:
            out.append(f"radius_mm: must be > 0, got {self.radius_mm}")
        if self.window_s <= 0:
            out.append(f"window_s: must be > 0, got {self.window_s}")
        if self.step_s < 0:
            out.append(f"step_s: must be >= 0, got {self.step_s}")
        if self.fd_threshold_mm < 0:
            out.append(f"fd_threshold_mm: must be >= 0 (0: no censoring), got {self.fd_threshold_mm}")
        if self.hrf_delay_s < 0:
            out.append(f"hrf_delay_s: must be >= 0, got {self.hrf_delay_s}")
        for band in self.bands:
            if (not isinstance(band, (list, tuple)) or len(band) != 3 or not isinstance(band[0], str)
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in band[1:])):
                out.append(f"bands: every band is [name, low Hz, high Hz], got {band!r}")
            elif not 0 < band[1] < band[2]:
                out.append(f"bands: band {band[0]!r} needs 0 < low < high, got {band[1]}..{band[2]}")
            elif self.eeg_sfreq > 0 and band[2] >= self.eeg_sfreq / 2:
                out.append(f"bands: band {band[0]!r}: high edge {band[2]:g} Hz is not below the Nyquist frequency "
                           f"{self.eeg_sfreq / 2:g} Hz of eeg_sfreq {self.eeg_sfreq:g} Hz")
        names = [b[0] for b in self.bands if isinstance(b, (list, tuple)) and b and isinstance(b[0], str)]
        for name in sorted({n for n in names if names.count(n) > 1}):
            out.append(f"bands: band name {name!r} appears {names.count(name)} times")
        if any(isinstance(n, str) and not n.strip() for n in names):
            out.append("bands: a band has an empty name")
        if not self.bands:
            out.append("bands: at least one band is needed")
        return out


@dataclass
class GraphConfig:
    """``[graph]``: graph construction and the EEG -> ROI transfer.

    Attributes
    ----------
    kind : str
        ``"functional"`` (k-NN on the correlation over training windows,
        default) or ``"spatial"`` (k-NN on node positions).
    k : int
        Neighbours per node.
    transfer : str
        ``"mne"`` (forward model and minimum-norm inverse, default) or
        ``"distance"`` (fast distance weighting).
    """

    kind: str = choice_field("functional", ("functional", "spatial"))
    k: int = 8
    transfer: str = choice_field("mne", ("mne", "distance"))

    def problems(self) -> list:
        out = choice_problems(self)
        if self.k < 1:
            out.append(f"k: must be at least 1, got {self.k}")
        return out


@dataclass
class Phase1Config:
    """``[phase1]``: spectral GCNN and CAM saliency.

    Attributes
    ----------
    eeg_kernel_s : float
        Temporal kernel of the EEG models in seconds (0.1 s = 25 samples at
        250 Hz); a band's kernel covers at least one cycle of its low edge.
    eeg_subsample : bool
        Feed each band's model every q-th sample, ``q = floor(sfreq / (2.5 hi))``
        (lossless for a band-limited signal; much cheaper for slow bands).
    fmri_kernel_s : float
        Temporal kernel of the fMRI model in seconds (6 s = 3 TRs at TR 2 s).
    n_filters : int
        Temporal filters.
    n_segments : int
        Time segments kept per filter after pooling.
    hidden : list of int
        Output channels of the Chebyshev layers (the last is the CAM feature size).
    K : int
        Chebyshev polynomial terms per layer (K = 3: T0, T1, T2).
    dropout : float
        Dropout before each graph layer.
    node_embedding : int
        Size of the learned per-node vector given to the first graph layer
        (0: none); lets the pooled model tell which regions are active.
    salient_top_n : int
        Nodes each subject votes for per class, and salient nodes kept per class.
    cam_reference : str
        ``"average"``: the saliency arrays hold the referenced CAM, each
        window's CAM minus the CAM of its average-state reference (fMRI: every
        ROI at its mean; EEG: each electrode's band signal at its mean power;
        see :mod:`eegfmri_viewer.training.cam_reference`). ``"none"``: the plain
        CAM, as the paper.
    eeg : bool
        Train the EEG models when the data hold EEG (False: fMRI only).
    """

    eeg_kernel_s: float = 0.1
    eeg_subsample: bool = True
    fmri_kernel_s: float = 6.0
    n_filters: int = 8
    n_segments: int = 4
    hidden: list = field(default_factory=lambda: [32, 32])
    K: int = 3
    dropout: float = 0.25
    node_embedding: int = 8
    salient_top_n: int = 10
    cam_reference: str = choice_field("average", ("average", "none"))
    eeg: bool = True

    def problems(self) -> list:
        out = choice_problems(self)
        for key in ("eeg_kernel_s", "fmri_kernel_s"):
            if getattr(self, key) <= 0:
                out.append(f"{key}: must be > 0, got {getattr(self, key)}")
        if self.node_embedding < 0:
            out.append(f"node_embedding: must be >= 0, got {self.node_embedding}")
        for key in ("n_filters", "n_segments", "K", "salient_top_n"):
            if getattr(self, key) < 1:
                out.append(f"{key}: must be at least 1, got {getattr(self, key)}")
        if not self.hidden or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden):
            out.append(f"hidden: must be a non-empty list of positive integers, got {self.hidden!r}")
        if not 0 <= self.dropout < 1:
            out.append(f"dropout: must lie in [0, 1), got {self.dropout}")
        return out


@dataclass
class TrainingConfig:
    """``[training]``: phase-1 optimisation and evaluation.

    Attributes
    ----------
    level : str
        ``"group"`` (one model on all subjects, default) or ``"individual"``
        (one model per subject).
    epochs : int
        Maximum epochs per model.
    batch_size : int
        Windows per step.
    lr : float
        Adam learning rate of the phase-1 models (fMRI and EEG band GCNNs).
    weight_decay : float
        Adam L2 penalty.
    patience : int
        Early stopping patience in epochs (0: never stop early).
    class_weights : bool
        Weight the loss by inverse class frequency.
    val_fraction : float
        Share of the blocks of each class (and subject, when each has at least
        3 blocks) held out for validation: early stopping and the choice among
        initialisations. 0: no validation windows.
    test_fraction : float
        Share of the blocks of each class (and subject) held out for the test;
        the reported accuracies are on these windows only. Blocks go whole to
        one split, so with few blocks per class the share differs (the
        analysis warns when it is far off).
    seed : int
        Seed of the split, the initialisation and the batch order.
    n_init_fmri : int
        Initialisations trained for the fMRI model (per subject at individual
        level); the one with the lowest validation loss is kept (the test
        split plays no part; without validation windows only the first is
        trained). Initialisation j is seeded ``seed + 1000 * j``. The fMRI
        model reads a few ROIs among hundreds through a mean over nodes, so it
        starts on a loss plateau and one initialisation in a few can settle on
        a poor optimum (measured on the demo: 1 training seed in 9 with one
        initialisation, none of 9 with three).
    n_init_eeg : int
        Initialisations trained for each EEG band model, the one with the
        lowest validation loss kept, as for ``n_init_fmri``; one was stable
        across seeds on the demo.
    threads : int
        Torch CPU threads while training (restored afterwards). 1 is the
        fastest for these small models: extra threads spend more time
        synchronising tiny operations than they save, dramatically so on a
        machine that is busy with other work.
    """

    level: str = choice_field("group", ("group", "individual"))
    epochs: int = 60
    batch_size: int = 32
    lr: float = 1e-2
    weight_decay: float = 1e-4
    patience: int = 15
    class_weights: bool = True
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    seed: int = 0
    n_init_fmri: int = 3
    n_init_eeg: int = 1
    threads: int = 1

    def problems(self) -> list:
        out = choice_problems(self)
        if self.threads < 1:
            out.append(f"threads: must be at least 1, got {self.threads}")
        for key in ("epochs", "batch_size", "n_init_fmri", "n_init_eeg"):
            if getattr(self, key) < 1:
                out.append(f"{key}: must be at least 1, got {getattr(self, key)}")
        if self.patience < 0:
            out.append(f"patience: must be >= 0, got {self.patience}")
        if self.lr <= 0:
            out.append(f"lr: must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            out.append(f"weight_decay: must be >= 0, got {self.weight_decay}")
        for key in ("val_fraction", "test_fraction"):
            if not 0 <= getattr(self, key) < 1:
                out.append(f"{key}: must lie in [0, 1), got {getattr(self, key)}")
        if self.val_fraction + self.test_fraction >= 1:
            out.append("val_fraction + test_fraction: must be below 1 to leave training blocks")
        return out


@dataclass
class AnalysisConfig:
    """All analysis settings; one attribute per TOML table."""

    preprocessing: PreprocessingConfig = field(default_factory=PreprocessingConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    phase1: Phase1Config = field(default_factory=Phase1Config)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    phase2: Phase2Config = field(default_factory=Phase2Config)
    coupling: CouplingConfig = field(default_factory=CouplingConfig)

    @classmethod
    def tables(cls) -> dict:
        """``{table name: dataclass}`` in file order."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict:
        """Plain nested dict (what ``config.toml`` holds)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: Optional[str] = None) -> "AnalysisConfig":
        """Build and validate a config from nested mappings.

        Parameters
        ----------
        data : mapping
            ``{table: {key: value}}``; missing tables and keys keep defaults.
        source : str, optional
            File the data came from, named in errors.

        Raises
        ------
        InputError
            Unknown table or key, wrong type, or a value out of range; the
            message names ``source`` and ``[table] key``.
        """
        where = source or "configuration"
        tables = cls.tables()
        parts = {}
        for name, value in data.items():
            if name not in tables:
                raise InputError(where, f"unknown table or key [{name}]; known tables: "
                                        f"{', '.join('[' + t + ']' for t in tables)}")
            if not isinstance(value, Mapping):
                raise InputError(where, f"[{name}] must be a table of settings, got {type(value).__name__}")
        for name, klass in tables.items():
            parts[name] = _build_table(klass, name, data.get(name, {}), where)
        return cls(**parts)

    @classmethod
    def from_toml(cls, path) -> "AnalysisConfig":
        """Read and validate a ``config.toml``.

        Raises
        ------
        InputError
            File missing or not TOML, unknown key, wrong type, value out of range.
        """
        path = Path(path)
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise InputError(path, "configuration file not found") from None
        except OSError as exc:
            raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(path, f"is not valid TOML ({exc})") from None
        _resolve_atlas_path(data, path)
        return cls.from_dict(data, source=str(path))

    def to_toml(self, path=None) -> str:
        """TOML text of the settings; also written to ``path`` when given."""
        import tomli_w

        text = tomli_w.dumps(self.to_dict())
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def with_overrides(self, **tables) -> "AnalysisConfig":
        """Copy with some keys changed, e.g. ``with_overrides(training={"epochs": 5})``; validated."""
        data = self.to_dict()
        for name, values in tables.items():
            data.setdefault(name, {}).update(values)
        return AnalysisConfig.from_dict(data)


def _resolve_atlas_path(data: dict, path: Path) -> None:
    """Make a relative label-atlas path in ``data`` absolute, from the config file's folder.

    A config file and the atlas beside it then work from any current folder,
    and the ``config.toml`` saved with the results names the file that was
    used.

    Raises
    ------
    InputError
        The atlas file does not exist (the message names the config file and
        the folder searched).
    """
    table = data.get("preprocessing")
    atlas = table.get("atlas") if isinstance(table, dict) else None
    if not isinstance(atlas, str) or not atlas.lower().endswith((".nii", ".nii.gz")):
        return
    given = Path(atlas).expanduser()
    full = given if given.is_absolute() else (path.resolve().parent / given)
    if not full.is_file():
        where = "" if given.is_absolute() else f" (a relative path is read from the config file's folder {full.parent})"
        raise InputError(path, f"[preprocessing] atlas: label atlas file {full} not found{where}")
    table["atlas"] = str(full.resolve())


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is list or origin is list:
        return isinstance(value, list)
    if hint is dict or origin is dict:
        return isinstance(value, Mapping)
    return True


def _type_name(hint: Any) -> str:
    if hint is dict or typing.get_origin(hint) is dict:
        return "a table"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        hint, "a list" if hint is list or typing.get_origin(hint) is list else str(hint))


def _build_table(klass, table: str, values: Mapping[str, Any], where: str):
    hints = typing.get_type_hints(klass)
    names = [f.name for f in dataclasses.fields(klass)]
    for key, value in values.items():
        if key not in names:
            raise InputError(where, f"unknown key '{key}' in [{table}]; known keys: {', '.join(names)}")
        if not _type_ok(value, hints[key]):
            raise InputError(where, f"[{table}] {key} must be {_type_name(hints[key])}, got {value!r}")
    kwargs = {k: (float(v) if hints[k] is float else dict(v) if hints[k] is dict else v)
              for k, v in values.items()}
    obj = klass(**kwargs)
    problems = obj.problems() if hasattr(obj, "problems") else []
    if problems:
        raise InputError(where, f"[{table}] " + f"; [{table}] ".join(problems))
    return obj
