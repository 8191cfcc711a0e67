"""Write the demo dataset as BIDS: BrainVision EEG, NIfTI BOLD, events and sidecars.

Every file is byte-for-byte a function of its inputs: JSON keys keep a fixed
order, numbers a fixed format, the BrainVision measurement date is fixed per
subject and session, and nibabel writes gzip streams without a time stamp.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import numpy as np

from . import spec

BIDS_VERSION = "1.9.0"
# Recording dates are fixed so that files are reproducible; sessions are four weeks apart.
FIRST_DATE = _dt.datetime(2024, 3, 4, 9, 0, 0, tzinfo=_dt.timezone.utc)


def write_json(path: Path, obj) -> None:
    """JSON with two-space indent, UTF-8, trailing newline."""
    Path(path).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}" if abs(float(v)) < 1e5 else f"{float(v):.1f}"
    return str(v)


def write_tsv(path: Path, header: list, rows) -> None:
    """Tab-separated table with a header line; floats in ``%.6g``."""
    lines = ["\t".join(header)] + ["\t".join(_cell(v) for v in row) for row in rows]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def meas_date(subject: int, session: int) -> _dt.datetime:
    """Fixed recording date of subject ``subject`` (1-based), session ``session``."""
    return FIRST_DATE + _dt.timedelta(days=7 * (subject - 1) + 28 * (session - 1))


def entity_base(subject: str, session: str) -> str:
    """``sub-<s>_ses-<e>_task-<t>`` prefix of the run's files."""
    return f"sub-{subject}_ses-{session}_task-{spec.TASK}"


def write_dataset_files(root: Path, subjects: list, ages: list, sexes: list, version: str, n_sessions: int) -> None:
    """dataset_description.json, participants.tsv/.json, README, .bidsignore, events.json."""
    write_json(root / "dataset_description.json", {
        "Name": "eegfmri_viewer demo: simulated simultaneous EEG-fMRI with a planted ground truth",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "License": "CC0",
        "Authors": ["eegfmri_viewer demo generator"],
        "GeneratedBy": [{"Name": "eegfmri_viewer-demo", "Version": version,
                         "Description": "Simulation; the planted effects are listed in ground_truth.json"}],
    })
    write_tsv(root / "participants.tsv", ["participant_id", "age", "sex"],
              [(f"sub-{s}", a, x) for s, a, x in zip(subjects, ages, sexes)])
    write_json(root / "participants.json", {
        "age": {"Description": "age of the simulated participant", "Units": "year"},
        "sex": {"Description": "sex of the simulated participant", "Levels": {"F": "female", "M": "male"}},
    })
    write_json(root / f"task-{spec.TASK}_events.json", {
        "trial_type": {"Description": "brain state of the block",
                       "Levels": {"rest": "eyes open, no task", "visual": "flickering checkerboard",
                                  "motor": "finger tapping with both hands"}},
        "value": {"Description": "BrainVision stimulus code of the block onset",
                  "Levels": {str(v): k for k, v in spec.CLASS_CODES.items()}},
        "sample": {"Description": "EEG sample of the block onset (eeg/ events only)"},
    })
    (root / ".bidsignore").write_text("ground_truth.json\n", encoding="utf-8")
    (root / "README").write_text(
        "Simulated simultaneous EEG-fMRI written by `eegfmri-viewer demo-data`.\n\n"
        f"{len(subjects)} subject(s), {n_sessions} session(s), task '{spec.TASK}': blocks of "
        f"{spec.BLOCK_S:g} s of {', '.join(spec.CLASSES)}.\n"
        f"EEG: 64 channels (10-10), BrainVision, {spec.SFREQ:g} Hz, average reference, one "
        f"'Response/{spec.VOLUME_MARKER}' marker per volume.\n"
        f"BOLD: 4 mm MNI152 grid (sform/qform code 4), TR {spec.TR:g} s.\n"
        "The planted effects (regions, electrodes, bands, EEG-BOLD coupling and the session-2 change) "
        "are in ground_truth.json; the generative model is described in docs/demo.md of eegfmri_viewer.\n",
        encoding="utf-8")


def write_eeg(folder: Path, base: str, data: np.ndarray, sfreq: float, ch_names: list, ch_types: list,
              info, design, date: _dt.datetime, artifacts: bool) -> Path:
    """Write one EEG run: BrainVision files and the BIDS EEG sidecars.

    Parameters
    ----------
    folder : Path
        The run's ``eeg/`` folder.
    base : str
        ``sub-<s>_ses-<e>_task-<t>``.
    data : ndarray, shape (n_channels, n_times)
        Volts.
    sfreq : float
    ch_names, ch_types : list of str
    info : mne.Info
        Positions of the EEG channels (head frame = CapTrak).
    design : RunDesign
    date : datetime.datetime
    artifacts : bool
        Whether gradient / pulse artifacts were simulated (for the sidecar).

    Returns
    -------
    vhdr : Path
    """
    from pybv import write_brainvision

    folder.mkdir(parents=True, exist_ok=True)
    events = [{"onset": int(round(t * sfreq)), "duration": 1, "description": 128, "type": "Response"}
              for t in design.volume_onsets_eeg]
    blocks = []
    for onset, dur, cls in zip(design.onsets, design.durations, design.classes):
        sample = int(round((design.eeg_offset_s + onset) * sfreq))
        blocks.append((sample / sfreq, float(dur), cls, spec.CLASS_CODES[cls], sample))
        events.append({"onset": sample, "duration": int(round(dur * sfreq)), "description": spec.CLASS_CODES[cls],
                       "type": "Stimulus"})
    events.sort(key=lambda e: (e["onset"], e["type"]))
    peak_uv = float(np.abs(data).max()) * 1e6
    resolution = 0.1 if peak_uv < 3200 else float(np.ceil(peak_uv / 3200 * 10) / 10)
    write_brainvision(data=data, sfreq=sfreq, ch_names=ch_names, fname_base=f"{base}_eeg", folder_out=folder,
                      overwrite=True, events=events, resolution=resolution, unit="µV", fmt="binary_int16",
                      meas_date=date)
    n_eeg = ch_types.count("EEG")
    write_json(folder / f"{base}_eeg.json", {
        "TaskName": spec.TASK,
        "TaskDescription": "Blocks of rest, visual stimulation and finger tapping (simulated)",
        "Manufacturer": "eegfmri_viewer simulation",
        "SamplingFrequency": float(sfreq),
        "EEGReference": "average",
        "EEGGround": "n/a",
        "PowerLineFrequency": 50,
        "SoftwareFilters": "n/a",
        "EEGPlacementScheme": "10-10 system (64 positions)",
        "CapManufacturer": "n/a",
        "EEGChannelCount": n_eeg,
        "ECGChannelCount": ch_types.count("ECG"),
        "EOGChannelCount": 0,
        "EMGChannelCount": 0,
        "MiscChannelCount": 0,
        "TriggerChannelCount": 0,
        "RecordingType": "continuous",
        "RecordingDuration": round(data.shape[1] / sfreq, 6),
        "EEGVolumeMarker": f"Response/{spec.VOLUME_MARKER}",
        "MRArtifacts": ("gradient and pulse (ballistocardiogram) artifacts present; ECG channel recorded"
                        if artifacts else "none (simulated as if already corrected)"),
    })
    write_tsv(folder / f"{base}_channels.tsv", ["name", "type", "units", "status"],
              [(n, t, "µV", "good") for n, t in zip(ch_names, ch_types)])
    pos = {ch["ch_name"]: ch["loc"][:3] for ch in info["chs"]}
    write_tsv(folder / f"{base}_electrodes.tsv", ["name", "x", "y", "z"],
              [(n, f"{pos[n][0]:.6f}", f"{pos[n][1]:.6f}", f"{pos[n][2]:.6f}") for n in ch_names if n in pos])
    fids = {d["ident"]: d["r"] for d in info["dig"] if d["kind"] == 1}  # FIFFV_POINT_CARDINAL
    landmarks = {name: [round(float(v), 6) for v in fids[ident]] for name, ident in (("LPA", 1), ("NAS", 2), ("RPA", 3))
                 if ident in fids}
    write_json(folder / f"{base}_coordsystem.json", {
        "EEGCoordinateSystem": "CapTrak",
        "EEGCoordinateUnits": "m",
        "EEGCoordinateSystemDescription": "RAS head frame defined by the nasion and the pre-auricular points "
                                          "(MNE 'head'); template 10-05 positions of an fsaverage head",
        "AnatomicalLandmarkCoordinates": landmarks,
        "AnatomicalLandmarkCoordinateSystem": "CapTrak",
        "AnatomicalLandmarkCoordinateUnits": "m",
    })
    write_tsv(folder / f"{base}_events.tsv", ["onset", "duration", "trial_type", "value", "sample"],
              [(f"{o:.4f}", f"{d:.1f}", c, v, s) for o, d, c, v, s in blocks])
    return folder / f"{base}_eeg.vhdr"


def write_bold(folder: Path, base: str, data: np.ndarray, affine: np.ndarray, design) -> Path:
    """Write one BOLD run (4-D NIfTI in MNI space), its sidecar and events.

    Parameters
    ----------
    folder : Path
        The run's ``func/`` folder.
    base : str
    data : ndarray, shape (nx, ny, nz, n_volumes), int16
    affine : ndarray, shape (4, 4)
        Voxel -> MNI mm.
    design : RunDesign

    Returns
    -------
    path : Path
    """
    import nibabel as nib

    folder.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=4)   # NIFTI_XFORM_MNI_152
    img.set_qform(affine, code=4)
    hdr = img.header
    hdr.set_data_dtype(np.int16)
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_zooms(tuple(float(z) for z in np.abs(np.diag(affine)[:3])) + (float(design.tr),))
    hdr["descrip"] = b"eegfmri_viewer demo BOLD (simulated)"
    path = folder / f"{base}_bold.nii.gz"
    nib.save(img, path)
    write_json(folder / f"{base}_bold.json", {
        "TaskName": spec.TASK,
        "RepetitionTime": float(design.tr),
        "EchoTime": 0.03,
        "FlipAngle": 90,
        "MagneticFieldStrength": 3,
        "Manufacturer": "eegfmri_viewer simulation",
        "SkullStripped": True,
        "SpatialReference": "MNI152 (nilearn's MNI152 template and brain mask, 4 mm grid)",
    })
    write_tsv(folder / f"{base}_events.tsv", ["onset", "duration", "trial_type", "value"],
              [(f"{o:.4f}", f"{d:.1f}", c, spec.CLASS_CODES[c])
               for o, d, c in zip(design.onsets, design.durations, design.classes)])
    return path
