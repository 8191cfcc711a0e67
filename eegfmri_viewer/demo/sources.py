"""Head model of the demo: atlas regions, 64-channel 10-10 montage, EEG forward model.

The montage uses 64 positions of the 10-10 system (the BioSemi-64 set of names)
taken from MNE's template 10-05 positions, which MNE gives in fsaverage MRI
coordinates with the fsaverage fiducials. Dipoles sit at atlas ROI centres: MNI
coordinates are taken as fsaverage MRI (surface RAS) coordinates (MNI305 and
MNI152 differ by a few mm, which is below the resolution of a spherical head
model) and carried to the head frame with ``mne/data/fsaverage/fsaverage-trans.fif``.
The forward model is a 4-shell sphere fitted to the electrodes
(:func:`mne.make_sphere_model`), solved for a discrete source space with fixed
radial orientations. Everything is offline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The 64 10-10 electrode names of a BioSemi-64 cap, in its usual order.
EEG_CHANNELS = (
    "Fp1", "AF7", "AF3", "F1", "F3", "F5", "F7", "FT7", "FC5", "FC3", "FC1", "C1", "C3", "C5", "T7", "TP7",
    "CP5", "CP3", "CP1", "P1", "P3", "P5", "P7", "P9", "PO7", "PO3", "O1", "Iz", "Oz", "POz", "Pz", "CPz",
    "Fpz", "Fp2", "AF8", "AF4", "AFz", "Fz", "F2", "F4", "F6", "F8", "FT8", "FC6", "FC4", "FC2", "FCz", "Cz",
    "C2", "C4", "C6", "T8", "TP8", "CP6", "CP4", "CP2", "P2", "P4", "P6", "P8", "P10", "PO8", "PO4", "O2",
)


def power_atlas() -> tuple:
    """Power 2011 ROI centres as nilearn ships them.

    Returns
    -------
    coords : ndarray, shape (264, 3)
        MNI mm.
    names : list of str
        ``"ROI {n}"`` with the atlas's 1-based ROI number.
    """
    from nilearn import datasets

    rois = datasets.fetch_coords_power_2011().rois
    coords = rois[["x", "y", "z"]].to_numpy(dtype=float)
    names = [f"ROI {int(r)}" for r in rois["roi"]]
    return coords, names


def template_montage():
    """MNE's template 10-05 positions (fsaverage MRI frame, with fiducials)."""
    import mne

    # MNE 1.13 renamed 'standard_1005' to 'colin27_1005'; both hold the same positions.
    try:
        return mne.channels.make_standard_montage("colin27_1005")
    except ValueError:
        return mne.channels.make_standard_montage("standard_1005")


def make_info(sfreq: float):
    """``mne.Info`` of the 64 EEG channels with their template positions (head frame)."""
    import mne

    pos = template_montage().get_positions()
    montage = mne.channels.make_dig_montage(
        ch_pos={c: pos["ch_pos"][c] for c in EEG_CHANNELS},
        nasion=pos["nasion"], lpa=pos["lpa"], rpa=pos["rpa"], coord_frame=pos["coord_frame"],
    )
    info = mne.create_info(list(EEG_CHANNELS), sfreq, "eeg")
    info.set_montage(montage, verbose="error")
    return info


def mni_to_head(coords_mm: np.ndarray) -> np.ndarray:
    """MNI mm -> MNE head frame (m) through the fsaverage head<->MRI transform.

    Parameters
    ----------
    coords_mm : ndarray, shape (n, 3)

    Returns
    -------
    head_m : ndarray, shape (n, 3)
    """
    from pathlib import Path

    import mne

    head_mri = mne.read_trans(Path(mne.__file__).parent / "data" / "fsaverage" / "fsaverage-trans.fif")
    mri_head = mne.transforms.invert_transform(head_mri)
    return mne.transforms.apply_trans(mri_head, np.asarray(coords_mm, float) / 1000.0)


@dataclass
class HeadModel:
    """EEG channels and the forward gains of dipoles at atlas ROIs.

    Attributes
    ----------
    info : mne.Info
        64 EEG channels, head-frame positions.
    roi_index : ndarray, shape (n_sources,)
        Atlas rows of the dipoles.
    gain : ndarray, shape (n_channels, n_sources)
        Average-referenced radial-dipole gains, each column scaled so that its
        largest absolute value is 1: a source amplitude is then the amplitude
        at its most sensitive electrode, in the unit of the source signal.
    """

    info: object
    roi_index: np.ndarray
    gain: np.ndarray

    def column(self, roi: int) -> np.ndarray:
        """Gain of the dipole at atlas row ``roi``, shape (n_channels,)."""
        return self.gain[:, int(np.flatnonzero(self.roi_index == roi)[0])]


def make_head_model(roi_index, coords_mm: np.ndarray, sfreq: float) -> HeadModel:
    """Forward model for radial dipoles at the given atlas rows.

    Parameters
    ----------
    roi_index : sequence of int
        Atlas rows of the dipoles.
    coords_mm : ndarray, shape (n_atlas_rois, 3)
        The whole atlas (MNI mm).
    sfreq : float

    Returns
    -------
    head : HeadModel
    """
    import mne

    info = make_info(sfreq)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose="error")
    roi_index = np.asarray(roi_index, int)
    rr = mni_to_head(coords_mm[roi_index])
    nn = rr - sphere["r0"]
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    # Sources and sphere both in the head frame (identity head->MRI), because the
    # inside-the-sphere check compares source and sphere centre in one frame.
    src = mne.setup_volume_source_space(pos=dict(rr=rr, nn=nn), verbose="error")
    fwd = mne.make_forward_solution(info, trans=mne.transforms.Transform("head", "mri"), src=src, bem=sphere,
                                    eeg=True, meg=False, mindist=0.0, verbose="error")
    fwd = mne.convert_forward_solution(fwd, force_fixed=True, use_cps=False, verbose="error")
    if fwd["nsource"] != len(roi_index):
        raise RuntimeError(f"{len(roi_index) - fwd['nsource']} demo sources fell outside the spherical head")
    gain = np.asarray(fwd["sol"]["data"], float)
    gain = gain - gain.mean(axis=0, keepdims=True)
    gain /= np.abs(gain).max(axis=0, keepdims=True)
    return HeadModel(info=info, roi_index=roi_index, gain=gain)
