"""One test of "is this BOLD in MNI space?" and one wording per case (MNI, native, unknown, mixed) on every
surface that says it: compare (CLI warning, compare.json), the report, the tables note and the GUI note (the
GUI calls :func:`eegfmri_viewer.io.space.space_caveat` itself: tests/test_cortex_caveats.py).

"unknown" means the image could not be shown to be in MNI space: it must never be called native or "not MNI".
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eegfmri_viewer.comparison.compare import bundle_space, coordinate_space  # noqa: E402
from eegfmri_viewer.io.space import (common_space, coordinates_fit_text, dataset_spaces, is_mni_space,  # noqa: E402
                                     recording_spaces, space_caveat)
from eegfmri_viewer.report.roi_context import coordinates_caveat, coordinates_header  # noqa: E402

NATIVE = "is in native space, not MNI"
UNKNOWN = "is of unknown space"


def _dataset(*spaces):
    return {"recordings": [{"label": f"r{i}", "space": s} for i, s in enumerate(spaces)]}


def test_is_mni_space_and_common_space():
    assert is_mni_space("MNI") and is_mni_space("MNI152NLin2009cAsym")
    assert not any(is_mni_space(s) for s in ("native", "unknown", "T1w", "", None))
    assert common_space(["MNI152NLin6Asym", "MNI"]) == "MNI"  # the atlas fits every MNI template
    assert common_space(["native", "native"]) == "native"
    assert common_space(["native", "unknown"]) == "mixed" and common_space(["MNI", "unknown"]) == "mixed"
    assert common_space([None, ""]) is None
    data = _dataset("native", "MNI", "native")
    data["recordings"].append({"label": "old"})  # written before the space was recorded
    assert recording_spaces(data, "B: ") == [("B: r0", "native"), ("B: r1", "MNI"), ("B: r2", "native")]
    assert dataset_spaces(data) == ["native", "MNI"]


@pytest.mark.parametrize("spaces, native, unknown", [
    (("MNI", "MNI152NLin2009cAsym"), False, False),
    (("native", "native"), True, False),
    (("T1w",), True, False),  # a BIDS space other than MNI is native
    (("unknown", "unknown"), False, True),
    (("native", "unknown"), True, True),  # mixed
    (("MNI", "unknown"), False, True),  # mixed
])
def test_one_wording_per_space_case_on_every_surface(spaces, native, unknown):
    dataset = _dataset(*spaces)
    core = space_caveat(recording_spaces(dataset), advice=True)
    report = coordinates_caveat(dataset) or ""  # the report and the tables note
    _, note, warning = coordinate_space({"A": dataset_spaces(dataset), "B": "MNI"})  # CLI warning, compare.json
    warning = warning or ""
    assert report == core  # the report says what the core says
    for text in (core, warning):
        assert (NATIVE in text) == native
        assert (UNKNOWN in text) == unknown
        if not native:
            assert "native space" not in text and "not MNI" not in text
    header = coordinates_header(dataset)
    assert ("does not fit the native-space BOLD" in header) == native
    assert ("may not fit the BOLD of unknown space" in header) == unknown
    assert header == ("MNI x, y, z (mm)" if not (native or unknown) else
                      f"atlas x, y, z (mm; {coordinates_fit_text(recording_spaces(dataset))})")
    if native or unknown:
        assert "Register the BOLD to MNI" in core and "Register the BOLD to MNI" in warning
        assert (", not coordinates in these data" in note) == native
        assert ("perhaps not coordinates in these data" in note) == unknown
    else:
        assert core == "" and warning == "" and "the BOLD is in MNI space" in note


def test_unknown_space_is_never_called_native_in_the_cli(tmp_path, capsys):
    from bundle_factory import make_bundle

    from eegfmri_viewer.cli import main
    from eegfmri_viewer.results import load_bundle, save_bundle

    make_bundle(tmp_path / "a", phase2=False)
    bundle = load_bundle(tmp_path / "a")
    for rec in bundle.dataset["recordings"]:
        rec["space"] = "unknown"
    save_bundle(tmp_path / "u", bundle)
    assert bundle_space(load_bundle(tmp_path / "u")) == "unknown"
    assert main(["tables", str(tmp_path / "u"), "--out", str(tmp_path / "t")]) == 0
    err = capsys.readouterr().err
    assert "note: The BOLD of " in err and UNKNOWN in err
    assert "native space" not in err and "not MNI" not in err
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "u"), "--out", str(tmp_path / "c"),
                 "--permutations", "20"]) == 0
    err = capsys.readouterr().err
    assert "warning: The BOLD of u is of unknown space" in err
    assert "native space" not in err and "not MNI" not in err
