"""Outputs never destroy inputs or unrelated folders (CLI review items 1-6, 12-15, 21).

The guards live in the core writers (``atomic_folder``, ``save_bundle``,
``save_compare``, ``write_report``, ``write_tables``), so the command line and
the GUI get them alike; the commands also check before any work is done.
"""

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bundle_factory import make_bundle
from eegfmri_viewer.atomic_write import atomic_folder, atomic_write_bytes
from eegfmri_viewer.cli import main
from eegfmri_viewer.comparison.compare import CompareError, compare_bundles, load_compare, save_compare
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.results import load_bundle, save_bundle


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two comparable bundles A and B (B from another seed) and a precious folder."""
    root = tmp_path_factory.mktemp("safety")
    make_bundle(root / "a", seed=0)
    make_bundle(root / "b", seed=1)
    return root


def _precious(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.txt").write_text("years of work")
    return folder


def _listing(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- 1. analyze / save_bundle ---------------------------------------------------------------
def test_save_bundle_force_replaces_only_an_earlier_bundle_or_an_empty_folder(tmp_path):
    make_bundle(tmp_path / "src")
    bundle = load_bundle(tmp_path / "src")
    precious = _precious(tmp_path / "precious")
    with pytest.raises(InputError, match="precious: is not a results bundle .*--force only replaces"):
        save_bundle(precious, bundle, force=True)
    assert _listing(precious) == {"thesis.txt": b"years of work"}
    # a bundle someone put other files into is not replaced either
    save_bundle(tmp_path / "res", bundle)
    (tmp_path / "res" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="also holds other files \\(notes.txt\\)"):
        save_bundle(tmp_path / "res", bundle, force=True)
    assert (tmp_path / "res" / "notes.txt").read_text() == "mine"
    (tmp_path / "res" / "notes.txt").unlink()
    bundle.metrics["marker"] = 1
    save_bundle(tmp_path / "res", bundle, force=True)
    assert load_bundle(tmp_path / "res").metrics["marker"] == 1
    (tmp_path / "empty").mkdir()
    save_bundle(tmp_path / "empty", bundle, force=True)
    assert (tmp_path / "empty" / "manifest.json").is_file()


@pytest.mark.parametrize("where", ["root", "inside", "around"])
def test_save_bundle_never_writes_onto_into_or_around_its_input_data(tmp_path, where):
    make_bundle(tmp_path / "src")
    bundle = load_bundle(tmp_path / "src")
    data = tmp_path / "data" / "bids"
    (data / "sub-01").mkdir(parents=True)
    (data / "sub-01" / "bold.nii.gz").write_bytes(b"not really")
    bundle.dataset["source"] = str(data)
    bundle.manifest["input_files"] = {str(data / "sub-01" / "bold.nii.gz"): "0" * 64}
    out = {"root": data, "inside": data / "sub-01", "around": tmp_path / "data"}[where]
    relation = {"root": "is", "inside": "lies inside", "around": "contains"}[where]
    with pytest.raises(InputError, match=f"{relation} the input"):
        save_bundle(out, bundle, force=True)
    assert (data / "sub-01" / "bold.nii.gz").read_bytes() == b"not really"


def test_results_may_go_to_the_bids_derivatives_folder_but_not_among_fmripreps_inputs(tmp_path):
    from eegfmri_viewer.results import check_bundle_destination

    bids = tmp_path / "bids"
    (bids / "sub-01").mkdir(parents=True)
    # BIDS keeps the outputs of analyses in derivatives/<pipeline>/
    assert check_bundle_destination(bids / "derivatives" / "eegfmri_viewer" / "run1", inputs=[bids]) == \
        (bids / "derivatives" / "eegfmri_viewer" / "run1").resolve()
    for out in (bids / "derivatives" / "fmriprep" / "res", bids / "derivatives", bids / "sub-01" / "res"):
        with pytest.raises(InputError, match="lies inside the input"):
            check_bundle_destination(out, inputs=[bids])
    # checking does not touch the input folder (no probe folder written into it)
    before = bids.stat().st_mtime_ns
    check_bundle_destination(bids / "derivatives" / "eegfmri_viewer" / "run2", inputs=[bids])
    assert sorted(p.name for p in bids.iterdir()) == ["sub-01"] and bids.stat().st_mtime_ns == before
    # only a BIDS root has derivatives: not a results bundle given as input, nor any folder below a bundle
    make_bundle(tmp_path / "bundle")
    with pytest.raises(InputError, match="lies inside the input"):
        check_bundle_destination(tmp_path / "bundle" / "derivatives" / "x", inputs=[tmp_path / "bundle"])
    with pytest.raises(InputError, match="lies inside the results bundle"):
        check_bundle_destination(tmp_path / "bundle" / "nested", inputs=[bids])


def _fake_bids(root: Path) -> Path:
    (root / "sub-01").mkdir(parents=True)
    (root / "README").write_text("dataset")
    (root / "dataset_description.json").write_text('{"Name": "x", "BIDSVersion": "1.8.0"}')
    return root


def test_analyze_command_refuses_unsafe_outputs_before_loading_anything(tmp_path, capsys, monkeypatch):
    import eegfmri_viewer.pipeline.analyze as analyze_module

    def must_not_run(*args, **kwargs):
        raise AssertionError("the analysis ran although the output was refused")

    monkeypatch.setattr(analyze_module, "analyze", must_not_run)
    bids = _fake_bids(tmp_path / "bids")
    precious = _precious(tmp_path / "precious")
    (tmp_path / "afile").write_text("x")
    cases = [
        ([str(bids), "--out", str(bids), "--force"], "bids: is the input"),
        ([str(bids), "--out", str(bids / "sub-01"), "--force"], "sub-01: lies inside the input"),
        ([str(bids), "--out", str(precious), "--force"], "precious: is not a results bundle"),
        ([str(bids), "--out", str(tmp_path / "afile" / "res")],
         f"afile/res: cannot create the results folder \\({tmp_path / 'afile'} is a file"),
        ([str(bids), "--out", "/proc/eegfmri-res"], "/proc/eegfmri-res: cannot create the results folder"),
    ]
    for argv, message in cases:
        assert main(["analyze", *argv, "--quiet"]) == 2, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert re.search(message, err), (message, err)
    assert sorted(p.name for p in bids.iterdir()) == ["README", "dataset_description.json", "sub-01"]
    assert _listing(precious) == {"thesis.txt": b"years of work"}


# -- 2. compare -----------------------------------------------------------------------------
def test_compare_force_never_replaces_an_input_bundle_or_another_folder(pair, tmp_path, capsys):
    a, b = pair / "a", pair / "b"
    before = _listing(a)
    args = ["compare", str(a), str(b), "--permutations", "20", "--force", "--out"]
    assert main([*args, str(a)]) == 2
    assert "a: is the input" in capsys.readouterr().err
    assert main([*args, str(a / "cmp")]) == 2
    assert "lies inside the input" in capsys.readouterr().err
    assert _listing(a) == before
    precious = _precious(tmp_path / "precious")
    assert main([*args, str(precious)]) == 2
    assert "precious: is not a comparison output" in capsys.readouterr().err
    assert _listing(precious) == {"thesis.txt": b"years of work"}
    # an earlier comparison is replaced
    assert main([*args, str(tmp_path / "cmp")]) == 0
    assert main([*args, str(tmp_path / "cmp")]) == 0
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir()) == ["compare.json", "compare.npz"]


def test_save_compare_refuses_the_compared_bundles(pair):
    result = compare_bundles(load_bundle(pair / "a"), load_bundle(pair / "b"), n_permutations=10)
    with pytest.raises(InputError, match="is the input"):
        save_compare(result, pair / "b", force=True)
    assert (pair / "b" / "manifest.json").is_file() and not (pair / "b" / "compare.npz").exists()


# -- 3, 14. report ---------------------------------------------------------------------------
def test_report_never_writes_into_a_bundle_and_replaces_a_file_only_with_force(pair, tmp_path, capsys):
    a = pair / "a"
    before = _listing(a)
    assert main(["report", str(a), "--out", str(a / "saliency.npz"), "--force"]) == 2
    assert "lies inside" in capsys.readouterr().err
    other = _precious(tmp_path / "other")
    save_bundle(tmp_path / "other_bundle", load_bundle(a))
    assert main(["report", str(a), "--out", str(tmp_path / "other_bundle" / "r.html")]) == 2
    assert "lies inside the results bundle" in capsys.readouterr().err
    assert _listing(a) == before
    mine = tmp_path / "myreport.html"
    mine.write_text("keep")
    start = time.perf_counter()
    assert main(["report", str(a), "--out", str(mine)]) == 2
    assert "myreport.html: already exists; choose another name or use --force" in capsys.readouterr().err
    assert mine.read_text() == "keep"
    assert main(["report", str(a), "--out", str(other)]) == 2
    assert "other: is a folder; give a file name for the report" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert main(["report", str(a), "--out", str(tmp_path / "afile" / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "cannot create the report" in err and "afile is a file" in err and "Traceback" not in err
    # refused up front: nothing was rendered
    assert time.perf_counter() - start < 5
    assert main(["report", str(a), "--out", str(mine), "--force"]) == 0
    assert mine.read_text().startswith("<!DOCTYPE html>")


def test_write_report_refuses_an_existing_file_and_a_bundle(pair, tmp_path):
    from eegfmri_viewer.report.html import write_report

    (tmp_path / "r.html").write_text("keep")
    with pytest.raises(InputError, match="already exists"):
        write_report(tmp_path / "r.html", "<html></html>")
    write_report(tmp_path / "r.html", "<html></html>", force=True)
    assert (tmp_path / "r.html").read_text() == "<html></html>"
    with pytest.raises(InputError, match="lies inside the results bundle"):
        write_report(pair / "a" / "weights" / "r.html", "<html></html>", force=True)


# -- 4. tables -------------------------------------------------------------------------------
def test_tables_never_go_into_a_results_bundle(pair, capsys):
    from eegfmri_viewer.report.tables import write_tables

    a = pair / "a"
    before = _listing(a)
    assert main(["tables", str(a), "--out", str(a), "--force"]) == 2
    assert "a: is the results bundle; choose another folder for the tables" in capsys.readouterr().err
    with pytest.raises(InputError, match="lies inside the results bundle"):
        write_tables(load_bundle(a), a / "weights", overwrite=True)
    assert _listing(a) == before


# -- 5, 6. option ranges ---------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["compare", "A", "B", "--out", "o", "--permutations", "-5"], "--permutations must be >= 1, got -5"),
    (["compare", "A", "B", "--out", "o", "--permutations", "0"], "--permutations must be >= 1, got 0"),
    (["tables", "A", "--out", "o", "--compare", "B", "--permutations", "-5"], "--permutations must be >= 1"),
    (["report", "A", "--out", "o.html", "--compare", "B", "--permutations", "0"], "--permutations must be >= 1"),
    (["report", "A", "--out", "o.html", "--q", "5"], "--q must be between 0 and 1"),
    (["report", "A", "--out", "o.html", "--q", "-1"], "--q must be between 0 and 1"),
    (["report", "A", "--out", "o.html", "--q", "0"], "--q must be between 0 and 1"),
])
def test_out_of_range_options_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


# -- 12. comparing something with itself -----------------------------------------------------
def test_identical_sides_are_refused_and_same_inputs_warned(pair, tmp_path, capsys):
    a = load_bundle(pair / "a")
    with pytest.raises(CompareError, match="is the same results folder as A"):
        compare_bundles(a, load_bundle(pair / "a"), n_permutations=10)
    assert main(["compare", str(pair / "a"), str(pair / "a") + "/", "--out", str(tmp_path / "c1")]) == 2
    assert "same results folder" in capsys.readouterr().err
    two = load_bundle(pair / "a")
    two.arrays["windows"]["session"] = np.where(np.arange(len(two.arrays["windows"]["labels"])) % 2, "1", "2")
    save_bundle(tmp_path / "two", two)
    assert main(["compare", str(tmp_path / "two"), "--sessions", "1", "1", "--out", str(tmp_path / "c2")]) == 2
    assert "session '1' was given twice" in capsys.readouterr().err
    # two bundles of the same input files: compared, with a warning
    for name, seed in (("x", 0), ("y", 1)):
        bundle = load_bundle(pair / ("a" if seed == 0 else "b"))
        bundle.manifest["input_files"] = {"/data/sub-01_bold.nii.gz": "ab" * 32}
        save_bundle(tmp_path / name, bundle)
    assert main(["compare", str(tmp_path / "x"), str(tmp_path / "y"), "--out", str(tmp_path / "c3"),
                 "--permutations", "20"]) == 0
    err = capsys.readouterr().err
    assert "warning: both bundles were computed from the same input files" in err
    assert load_compare(tmp_path / "c3").meta["warnings"]


# -- 21. labels, missing coupling, modes -----------------------------------------------------
def test_sides_with_the_same_dataset_label_are_named_by_their_folders(pair, capsys, tmp_path):
    result = compare_bundles(load_bundle(pair / "a"), load_bundle(pair / "b"), n_permutations=10)
    assert (result.meta["a"], result.meta["b"]) == ("a", "b")
    assert main(["compare", str(pair / "a"), str(pair / "b"), "--out", str(tmp_path / "c"),
                 "--permutations", "20"]) == 0
    assert "a  ->  b  (" in capsys.readouterr().out


def test_a_side_without_coupling_says_why_the_correlation_is_not_compared(pair, tmp_path, capsys):
    from bundle_factory import add_recording_coupling

    with_r = load_bundle(pair / "a")
    add_recording_coupling(with_r, 2, {})
    save_bundle(tmp_path / "with_r", with_r)
    without = load_bundle(pair / "b")
    del without.arrays["coupling"]
    save_bundle(tmp_path / "no_coupling", without)
    assert main(["compare", str(tmp_path / "with_r"), str(tmp_path / "no_coupling"), "--out",
                 str(tmp_path / "c"), "--permutations", "20"]) == 0
    out = capsys.readouterr().out
    assert "note: no_coupling has no coupling.npz" in out and "not compared" in out
    assert "EEG power-BOLD correlation (" not in out
    assert "has no coupling.npz" in json.loads((tmp_path / "c" / "compare.json").read_text())["lagged_r_missing"]


def test_outputs_get_the_umask_mode_not_the_private_temporary_one(pair, tmp_path):
    from eegfmri_viewer.report.html import write_report

    old = os.umask(0o022)
    try:
        save_bundle(tmp_path / "res", load_bundle(pair / "a"))
        with atomic_folder(tmp_path / "plain") as tmp:
            (tmp / "f").write_text("x")
        write_report(tmp_path / "r.html", "<html></html>")
        atomic_write_bytes(tmp_path / "f.bin", b"x")
        os.umask(0o027)
        write_report(tmp_path / "r2.html", "<html></html>")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "res") == mode(tmp_path / "plain") == 0o755
    assert mode(tmp_path / "r.html") == mode(tmp_path / "f.bin") == 0o644
    assert mode(tmp_path / "r2.html") == 0o640


# -- compare's default unit ------------------------------------------------------------------
def test_default_unit_is_blocks_when_both_sides_have_them_else_windows_with_a_note(pair, tmp_path, capsys):
    a, b = load_bundle(pair / "a"), load_bundle(pair / "b")
    result = compare_bundles(a, b, n_permutations=10)
    assert result.meta["unit"] == "blocks" and "correlated" in result.meta["unit_note"]
    n_blocks = len(np.unique(a.arrays["windows"]["blocks"][a.arrays["windows"]["labels"] == 0]))
    assert int(result.arrays["n_windows_a"][0]) == n_blocks
    # what few blocks allow is said: the smallest p of each class's test, in compare.json and on the console
    from eegfmri_viewer.comparison.stats import smallest_p

    n_b0 = int(result.arrays["n_windows_b"][0])
    assert result.meta["smallest_p"][0] == pytest.approx(smallest_p(n_blocks, n_b0, n_permutations=10))
    assert main(["compare", str(pair / "a"), str(pair / "b"), "--out", str(tmp_path / "cb"),
                 "--permutations", "50"]) == 0
    floor = smallest_p(n_blocks, n_b0, n_permutations=50)
    assert f"[{n_blocks} vs {n_b0} blocks; smallest possible p {floor:.2g}" in capsys.readouterr().out
    del b.arrays["windows"]["blocks"]
    save_bundle(tmp_path / "no_blocks", b)
    assert main(["compare", str(pair / "a"), str(tmp_path / "no_blocks"), "--out", str(tmp_path / "c"),
                 "--permutations", "20"]) == 0
    out = capsys.readouterr().out
    assert "comparison unit: windows, since no_blocks records no blocks" in out
    assert "20 permutations over windows" in out
    meta = load_compare(tmp_path / "c").meta
    assert meta["unit"] == "windows" and "liberal" in meta["unit_note"]
    # asked for explicitly: no note
    assert compare_bundles(a, load_bundle(pair / "b"), n_permutations=10, unit="windows").meta["unit_note"] is None


# -- 15. closed pipe -------------------------------------------------------------------------
def test_a_closed_pipe_ends_the_command_quietly(pair, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "eegfmri_viewer", "tables", str(pair / "a"), "--out",
                             str(tmp_path / "t")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command prints
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_headless_report_with_an_unreachable_display_prints_no_vtk_warning(pair, tmp_path):
    import base64

    def run(display):
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        if display:
            env["DISPLAY"] = display  # no X server answers there: VTK falls back to rendering without X
        out = tmp_path / f"r{len(display)}.html"
        proc = subprocess.run([sys.executable, "-m", "eegfmri_viewer", "report", str(pair / "a"), "--out", str(out)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr, re.findall(r'src="data:image/png;base64,([^"]+)"', out.read_text(encoding="utf-8"))

    err, images = run(":97")
    assert "X server" not in err and "WARN" not in err, err
    # the cortex images are the ones rendered with no DISPLAY at all
    _, reference = run("")
    assert len(images) == len(reference) > 0
    assert [base64.b64decode(i) for i in images] == [base64.b64decode(i) for i in reference]
