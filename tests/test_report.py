"""HTML report: self-contained, parsed, images decoded, comparison included."""

import base64
import io
from html.parser import HTMLParser

import numpy as np
import pytest

from bundle_factory import PLANTED, make_bundle
from eegfmri_viewer.comparison.compare import compare_bundles
from eegfmri_viewer.report.html import build_report, top_salient_connections, top_salient_rois, write_report
from eegfmri_viewer.results import load_bundle, save_bundle


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.tables, self.text = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag in ("link", "script") or (tag == "a" and attrs.get("href", "").startswith("http")):
            self.links.append(attrs)
        if tag == "table":
            self.tables += 1

    def handle_data(self, data):
        self.text.append(data)


def _parse(text):
    parser = _Collector()
    parser.feed(text)
    return parser


def _decode(src):
    from PIL import Image

    assert src.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    img.load()
    return np.asarray(img.convert("RGB"))


@pytest.mark.gui
def test_report_is_self_contained_with_real_images(tmp_path):
    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    out = write_report(tmp_path / "r.html", build_report(bundle))
    parsed = _parse(out.read_text())
    assert parsed.links == []  # nothing to fetch: opens without a network
    # training curves + 3 cortex images + 3 electrode graphs + fusion + coupling
    assert len(parsed.images) == 9
    cortex = _decode(parsed.images[1])
    assert cortex.shape[0] > 100
    # The cortex image is not blank: grey brain and coloured saliency on white.
    assert (cortex.std(axis=2) > 40).sum() > 20
    assert (cortex.min(axis=2) < 200).sum() > 1000
    # its colour bar below the brains: the 'hot' map's orange drawn there, the scale of this class's colours
    from matplotlib import colormaps

    bar = cortex[-90:].reshape(-1, 3).astype(int)
    assert (np.abs(bar - (np.array(colormaps["hot"](0.5)[:3]) * 255).astype(int)).max(axis=1) <= 12).sum() > 50
    text = " ".join(parsed.text)
    for name in bundle.classes:
        assert name in text
    # The top-ROI table names the planted ROI with its MNI coordinates.
    top = top_salient_rois(bundle, 1, n=3)
    assert {r["roi"] for r in top} == set(PLANTED[1])
    assert top[0]["name"] in text
    assert top[0]["bold_vs_mean"] == pytest.approx(1.0) and "BOLD in class vs mean" in text
    assert f"{top[0]['coords'][0]:.0f}, {top[0]['coords'][1]:.0f}, {top[0]['coords'][2]:.0f}" in text
    # The connection table ranks the edges among the planted ROIs first, both ends salient.
    assert "Most salient connections" in text
    conns = top_salient_connections(bundle, 1, n=3)
    assert {(c["a"], c["b"]) for c in conns} == {(0, 1), (0, 142), (1, 142)} and all(c["salient"] for c in conns)
    # The lagged-coupling table: the strongest peak, with its corrected p-value.
    cp = bundle.arrays["coupling"]
    assert "corrected p (FWE)" in text and f"the {len(cp['node_index'])} phase-2 ROIs" in text
    peak = np.abs(cp["lagged_corr"]).max(-1)
    b, n = np.unravel_index(peak.argmax(), peak.shape)
    assert f"{peak[b, n]:.3g} {cp['peak_lag_s'][b, n]:.3g} {cp['p_value'][b, n]:.3g} {cp['p_value_fwer'][b, n]:.3g}" in text


def test_report_lists_the_strongest_lagged_coupling_at_any_atlas_roi(tmp_path):
    make_bundle(tmp_path / "a", all_roi_lags=True)
    bundle = load_bundle(tmp_path / "a")
    cp = bundle.arrays["coupling"]
    cp["roi_lagged_corr"][3, 200] *= 3.0  # ROI 200 (beta, not a phase-2 node): the strongest peak
    text = " ".join(_parse(build_report(bundle)).text)
    assert f"any of the {cp['roi_lagged_corr'].shape[1]} atlas ROIs" in text
    peak = np.abs(cp["roi_lagged_corr"]).max(-1)
    b, roi = np.unravel_index(peak.argmax(), peak.shape)
    assert (b, roi) == (3, 200)
    assert "beyond the task" not in text
    bundle.config["coupling"] = {"remove_task": True}
    assert "the coupling beyond the task" in " ".join(_parse(build_report(bundle)).text)
    name = str(bundle.get("saliency", "roi_names")[roi])
    assert f"beta {name} {peak[b, roi]:.3g}" in text and f"{cp['roi_p_value_fwer'][b, roi]:.3g}" in text


@pytest.mark.gui
def test_report_with_comparison_lists_significant_changes(tmp_path):
    make_bundle(tmp_path / "a")
    before = load_bundle(tmp_path / "a")
    after = load_bundle(tmp_path / "a")
    roi = PLANTED[2][0]
    cam = after.arrays["windows"]["fmri_cam"]
    cam[after.arrays["windows"]["labels"] == 2, roi] += 2.0
    save_bundle(tmp_path / "b", after)
    after = load_bundle(tmp_path / "b")
    cmp = compare_bundles(before, after, n_permutations=20000, unit="windows")
    text = build_report(before, comparison=cmp, bundle_b=after)
    parsed = _parse(text)
    assert "What changed" in text
    assert 'class="sig"' in text
    assert str(before.get("saliency", "roi_names")[roi]) in text
    diff_img = _decode(parsed.images[-1])
    # Only the significant ROI is coloured (red/blue), the rest is grey.
    coloured = np.abs(diff_img[..., 0].astype(int) - diff_img[..., 2].astype(int)) > 60
    assert 0 < coloured.sum() < 0.05 * coloured.size


def test_report_shows_the_strongest_coupling_over_time(tmp_path):
    from bundle_factory import TIME_COUPLED, add_time_courses

    make_bundle(tmp_path / "a", all_roi_lags=True)
    bundle = load_bundle(tmp_path / "a")
    band, roi = TIME_COUPLED
    add_time_courses(bundle)  # the time-coupled pair is then the strongest lagged correlation
    parsed = _parse(build_report(bundle, render_cortex=False))
    text = " ".join(parsed.text)
    name = bundle.get("saliency", "roi_names")[roi]
    assert f"The strongest of these, over one recording (sub-01 ses-1): the alpha power on {name}" in text
    figure = _decode(parsed.images[-1])
    # the two curves (green band power, purple BOLD) and the class blocks (tab10 at 18 %) are drawn
    for colour in ((0x22, 0x88, 0x33), (0xAA, 0x33, 0x77)):
        assert (np.abs(figure.astype(int) - colour).max(axis=2) <= 30).sum() > 300
    for rgb in ((31, 119, 180), (255, 127, 14), (44, 160, 44)):  # rest, visual, motor: matplotlib's C0-C2
        tint = 255 + (np.array(rgb) - 255) * 0.18
        assert (np.abs(figure.astype(int) - tint).max(axis=2) <= 6).sum() > 2000
    # without time courses (bundles written before them) the section has no such figure
    del bundle.arrays["timecourses"]
    assert "The strongest of these, over one recording" not in build_report(bundle, render_cortex=False)


def test_report_of_fmri_only_bundle_says_phase2_missing(tmp_path):
    make_bundle(tmp_path / "a", eeg=False)
    text = build_report(load_bundle(tmp_path / "a"), render_cortex=False)
    assert "Phase 2 did not run" in text
    assert "Electrode graph" not in text


def test_report_of_a_session_comparison_lists_eeg_bold_correlation_changes(tmp_path):
    from bundle_factory import add_recording_coupling

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    add_recording_coupling(bundle, 2, {(2, 139): -0.5})
    result = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=200)
    text = " ".join(_parse(build_report(bundle, comparison=result)).text)
    assert "EEG power-BOLD correlation" in text and "Largest changes" in text
    # the largest change is the planted one, listed first with A, B and B - A
    a = result.arrays
    first = f"alpha {bundle.get('saliency', 'roi_names')[139]} {a['lagged_r_a'][2, 139]:.3g} {a['lagged_r_b'][2, 139]:.3g}"
    assert first in text
    # 2 and 2 recordings: said to be shown, not tested
    assert "there are 6 ways to relabel them, so no p-value can be below 0.33: these changes are shown, " \
           "not tested" in text
    # 4 and 4 (the demo): testable, but one change alone cannot pass FDR over 264 ROIs, and the report says so
    add_recording_coupling(bundle, 4, {(2, 139): -0.5})
    result = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=200)
    text = " ".join(_parse(build_report(bundle, comparison=result)).text)
    assert "70 ways to relabel them, so no p-value can be below 0.029, and with the FDR correction over " \
           "the 264 ROIs of a band a change reaches q < 0.05 only together with many others" in text


def test_report_of_a_paired_comparison_says_how_it_was_paired(tmp_path):
    from bundle_factory import add_paired_recordings

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    add_paired_recordings(bundle, 6, {(2, 139): -0.3})
    result = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=200, unit="subjects")
    text = " ".join(_parse(build_report(bundle, comparison=result)).text)
    assert "Paired test: each of the 6 subjects recorded in both sessions (00, 01, 02, 03, 04, 05)" in text
    assert "The test is paired: each of the 6 subjects recorded in both sessions gives its difference" in text
    assert "A and B are the means over the 6 paired subjects of each subject's recordings (6 and 6 recordings" \
           in text
    assert "With 6 subjects there are 64 sign patterns, so no p-value can be below 0.031" in text
    assert "optimistic" not in text  # the window-level warning is for window-level tests
    # each class says how many subjects it paired, and so its own floor
    # (in the words of the CLI and the GUI: comparison/resolution.py)
    assert "rest: 0 significant ROI(s) [6 subjects paired; smallest possible p 0.031; exact: all 64 sign " \
           "patterns]" in text
    assert "No ROI can be significant" not in text


def test_report_flags_paired_classes_that_no_roi_can_reach(tmp_path):
    from bundle_factory import add_paired_recordings

    from eegfmri_viewer.comparison.resolution import class_resolution_text, unreachable_classes

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    add_paired_recordings(bundle, 3, {(2, 139): -0.3})
    result = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=200, unit="subjects")
    # 3 subjects: 8 sign patterns, so no p below 2 / 8 = 0.25, whatever the change
    assert unreachable_classes(result) == list(range(len(bundle.classes)))
    assert class_resolution_text(result, 0) == ("3 subjects paired; smallest possible p 0.25; exact: all 8 sign "
                                                "patterns; none can reach q < 0.05")
    page = build_report(bundle, comparison=result, render_cortex=False)
    assert "<b>No ROI can be significant</b> in every class: with so few paired subjects the sign-flip test has " \
           "too few distinct sign patterns" in page
    text = " ".join(_parse(page).text)
    assert f"{bundle.classes[0]}: 0 significant ROI(s) [3 subjects paired; smallest possible p 0.25" in text



def test_report_command_makes_the_paired_report(tmp_path):
    from bundle_factory import make_paired_bundle

    from eegfmri_viewer.cli import main

    make_paired_bundle(tmp_path / "paired", 6, {(2, 139): -0.3})
    assert main(["report", str(tmp_path / "paired"), "--sessions", "1", "2", "--unit", "subjects",
                 "--permutations", "200", "--out", str(tmp_path / "r.html")]) == 0
    text = " ".join(_parse((tmp_path / "r.html").read_text()).text)
    assert "two-sided paired sign-flip test over subjects" in text


def test_report_command_compares_two_sessions_of_one_bundle(tmp_path, capsys):
    from bundle_factory import add_recording_coupling

    from eegfmri_viewer.cli import main

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    add_recording_coupling(bundle, 2, {(2, 139): -0.5})
    save_bundle(tmp_path / "s", bundle)
    out = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "s"), "--sessions", "1", "2", "--out", str(out),
                 "--permutations", "200"]) == 0
    text = " ".join(_parse(out.read_text()).text)
    assert "What changed:" in text and "ses-1" in text and "ses-2" in text
    assert "EEG power-BOLD correlation" in text
    # a session the bundle lacks, or both kinds of comparison at once: a message, no report
    assert main(["report", str(tmp_path / "s"), "--sessions", "1", "3", "--out", str(tmp_path / "x.html")]) == 2
    assert "no windows of session '3'" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "s"), "--sessions", "1", "2", "--compare", str(tmp_path / "a"),
                 "--out", str(tmp_path / "y.html")]) == 2
    assert "not both" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()


def test_report_dataset_table_says_what_became_of_bad_channels_and_how_much_each_run_moved(tmp_path):
    make_bundle(tmp_path / "a", phase2=False)
    bundle = load_bundle(tmp_path / "a")
    bundle.dataset["recordings"] = [
        {"subject": "01", "session": "pre", "task": "x", "run": None, "tr": 2.0, "space": "MNI",
         "eeg_path": "/d/sub-01_eeg.vhdr", "bold_path": "/d/sub-01_bold.nii.gz",
         "eeg_bad_channels": {"interpolated": ["T7", "P8"], "dropped": ["<i>X&1"]},
         "motion": {"mean_fd_mm": 0.123, "max_fd_mm": 0.9, "threshold_mm": 0.5, "n_volumes_above": 3,
                    "n_volumes": 100}},
        {"subject": "02", "session": "pre", "task": "x", "run": None, "tr": 2.0, "space": "MNI",
         "eeg_path": "/d/sub-02_eeg.vhdr", "bold_path": "/d/sub-02_bold.nii.gz",
         "eeg_bad_channels": {"interpolated": [], "dropped": []}, "motion": None},
        # written before these were recorded
        {"subject": "03", "session": "pre", "task": "x", "run": None, "tr": 2.0, "space": "MNI",
         "eeg_path": "/d/sub-03_eeg.vhdr", "bold_path": "/d/sub-03_bold.nii.gz"},
    ]
    text = " ".join(_parse(build_report(bundle, render_cortex=False)).text)
    assert "bad EEG channels" in text and "mean FD (mm)" in text
    assert "T7, P8 interpolated; <i>X&1 dropped" in text and "0.12 (max 0.90; 3 of 100 volumes > 0.5)" in text
    assert "&lt;i&gt;X&amp;1" in build_report(bundle, render_cortex=False)  # a channel name is text, not markup
    assert "sub-02_bold.nii.gz none –" in text and "sub-03_bold.nii.gz – –" in text


def test_report_lists_each_initialisation_and_which_was_kept(tmp_path):
    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    phase1 = bundle.metrics["phase1"]
    phase1["fmri"]["initialisations"] = [{"init": i + 1, "seed": 1000 * i, "best_monitor": v, "best_epoch": 9,
                                          "epochs": 20} for i, v in enumerate([0.497, 0.047, 0.002])]
    phase1["fmri"]["chosen_init"] = 3
    phase1["eeg"] = {"alpha": {"test_acc": 0.9, "test_balanced_acc": 0.875, "chance": 0.5, "epochs": 12,
                               "n_test": 40},
                     "beta": {"test_acc": 4 / 7, "test_balanced_acc": 0.56, "chance": 1 / 3, "epochs": 5, "n_test": 7}}
    text = build_report(bundle, render_cortex=False)
    assert "initialisations: validation loss (kept in bold)" in text
    rows = {row.split("</td>", 1)[0]: row for row in text.split("<tr><td>")[1:]}
    assert "<td>0.497, 0.047, <b>0.002</b></td></tr>" in rows["fMRI (ROIs)"]
    assert ("<td>0.875</td><td>0.5</td><td>36 of 40, binomial p &lt; 0.001</td><td></td><td>12</td>"
            "<td>one (no choice)</td></tr>" in rows["EEG alpha (electrodes)"])
    # how far each model's maps can be trusted: 4 of 7 right with 3 classes is not shown to beat chance
    assert "<td><b>4 of 7, binomial p = 0.173: not shown to beat chance</b></td>" in rows["EEG beta (electrodes)"]
    # unbalanced test windows: chance is the largest class's share, not 1 / classes (a model always answering
    # the largest class scores it)
    phase1["eeg"]["beta"].update(test_acc=0.7, n_test=50, n_test_per_class=[35, 10, 5])
    rows = {row.split("</td>", 1)[0]: row for row in build_report(bundle, render_cortex=False).split("<tr><td>")[1:]}
    assert "<td>0.7</td><td><b>35 of 50, binomial p = 0.569: not shown to beat chance</b></td>" in \
        rows["EEG beta (electrodes)"]
    # the block test decides where it exists; the test windows right per class beside it
    classes = list(bundle.classes)
    confusion = [[0] * len(classes) for _ in classes]
    confusion[0][0], confusion[0][1], confusion[1][1] = 30, 2, 8
    phase1["eeg"]["alpha"].update(confusion=confusion, block_test={"p_value": 0.31, "n_blocks": 5,
                                                                     "n_permutations": 2000})
    rows = {row.split("</td>", 1)[0]: row for row in build_report(bundle, render_cortex=False).split("<tr><td>")[1:]}
    assert (f"<td><b>36 of 40, binomial p &lt; 0.001; 5 blocks, block permutation p = 0.31: not shown to beat "
            f"chance</b></td><td>{classes[0]} 30/32, {classes[1]} 8/8</td>") in rows["EEG alpha (electrodes)"]


def _native_space(bundle):
    """Make ``bundle`` look like an analysis of native-space BOLD (what detect_space writes into dataset.json)."""
    for rec in bundle.dataset["recordings"]:
        w = f"{rec['bold_path']}: BOLD is in native (scanner) space (sform/qform code 1/1); MNI atlas coordinates " \
            "do not fit it"
        rec.update(space="native", warnings=[w])
        bundle.dataset.setdefault("warnings", []).append(f"{rec['label']}: {w}")  # as analyze copies it


def test_report_of_native_space_data_says_the_mni_coordinates_do_not_fit(tmp_path):
    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    assert "MNI x, y, z (mm)" in build_report(bundle, render_cortex=False)
    assert "not MNI" not in build_report(bundle, render_cortex=False)
    _native_space(bundle)
    text = build_report(bundle, render_cortex=False)
    plain = " ".join(_parse(text).text)
    # no table calls the atlas coordinates MNI positions of this image
    assert "<th>MNI x, y, z (mm)</th>" not in text
    assert "<th>atlas x, y, z (mm; MNI, which does not fit the native-space BOLD)</th>" in text
    # the cortex section says so where the images are drawn
    cortex = text.split("<h2>Saliency on the cortex")[1].split("<h2>")[0]
    labels = " and ".join(rec["label"] for rec in bundle.dataset["recordings"])
    assert f'<p class="warn">The BOLD of {labels} is in native space, not MNI' in cortex
    assert "unknown" not in cortex  # native data are not called of unknown space
    # each recording's warning once, not again without its label
    for rec in bundle.dataset["recordings"]:
        assert plain.count(rec["warnings"][0]) == 1
    # and in a comparison's table too
    before, after = load_bundle(tmp_path / "a"), load_bundle(tmp_path / "a")
    _native_space(after)
    save_bundle(tmp_path / "b", after)
    cmp = compare_bundles(before, load_bundle(tmp_path / "b"), n_permutations=50, unit="windows")
    text = build_report(before, comparison=cmp, bundle_b=load_bundle(tmp_path / "b"), render_cortex=False)
    changed = text.split("<h2>What changed")[1]
    assert "which does not fit the native-space BOLD" in changed
    assert changed.count("not MNI") == 1  # said once, by compare (meta["space"] "mixed") or here


def test_most_salient_regions_are_positive_and_have_bold_signal(tmp_path):
    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    cam = bundle.arrays["saliency"]["fmri_cam"]
    cam[0] = -np.linspace(0.1, 1.0, cam.shape[1])  # class 0: all negative ...
    cam[0, [3, 7, 9, 11]] = [0.5, 0.4, 2.0, 0.3]  # ... but four
    recs = bundle.dataset["recordings"]
    recs[0]["empty_rois"], recs[1]["empty_rois"] = [9, 11, 20], [9, 20, 30]  # ROI 9: no BOLD in either recording
    top = top_salient_rois(bundle, 0, n=10)
    assert [r["roi"] for r in top] == [3, 7, 11]  # 9 (flat zeros everywhere) left out; 11 has BOLD in one run
    assert all(r["cam"] > 0 for r in top)
    text = " ".join(_parse(build_report(bundle, render_cortex=False)).text)
    names = bundle.get("saliency", "roi_names")
    assert (f"2 ROI(s) without BOLD signal in every recording ({names[9]}, {names[20]}: outside the field of view "
            "or the brain mask) are left out") in text
    assert "Only 3 of the 10 asked for: 3 ROI(s) with BOLD signal have a positive CAM for this class" in text
    # without empty_rois recorded (older bundles) nothing is left out for lack of signal
    for rec in recs:
        rec.pop("empty_rois")
    assert [r["roi"] for r in top_salient_rois(bundle, 0, n=10)] == [9, 3, 7, 11]


def test_saliency_table_marks_rois_without_bold_and_the_bold_space(tmp_path, capsys):
    import csv

    from eegfmri_viewer.report.tables import saliency_fmri_rows, write_tables

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    header, rows = saliency_fmri_rows(bundle)
    assert header[-2:] == ["has_bold", "bold_space"] and {r[-1] for r in rows} == {"MNI"}
    assert {r[-2] for r in rows} == {None}  # empty ROIs not recorded: unknown
    _native_space(bundle)
    bundle.dataset["recordings"][0]["empty_rois"] = [5, 6]
    bundle.dataset["recordings"][1]["empty_rois"] = [6]
    write_tables(bundle, tmp_path / "t")
    with open(tmp_path / "t" / "saliency_fmri.csv", newline="") as f:
        table = list(csv.DictReader(f))
    n_rois = bundle.get("saliency", "fmri_cam").shape[1]
    assert len(table) == len(bundle.classes) * n_rois  # every ROI keeps its row
    assert {r["roi"] for r in table if r["has_bold"] == "0"} == {"6"}
    assert {r["has_bold"] for r in table if r["roi"] != "6"} == {"1"}
    assert {r["bold_space"] for r in table} == {"native"}
    # the command says it too
    from eegfmri_viewer.cli import main

    save_bundle(tmp_path / "native", bundle)
    assert main(["tables", str(tmp_path / "native"), "--out", str(tmp_path / "t2")]) == 0
    err = capsys.readouterr().err
    assert "note: The BOLD of " in err and "is in native space, not MNI" in err


def test_training_figure_leaves_out_validation_accuracy_without_validation_windows(tmp_path):
    from eegfmri_viewer.report import figures

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    with_val = _decode("data:image/png;base64," + base64.b64encode(figures.training_curves(bundle.metrics)).decode())
    assert "No validation accuracy is drawn" not in build_report(bundle, render_cortex=False)
    for h in bundle.metrics["phase1"]["fmri"]["history"]:
        h["val_acc"] = float("nan")  # what metrics.json holds without validation windows
    bundle.dataset["n_windows_per_split"] = {"train": 12, "val": 0, "test": 12}
    assert not figures.has_validation_accuracy(bundle.metrics)
    without = _decode("data:image/png;base64," + base64.b64encode(figures.training_curves(bundle.metrics)).decode())
    # two panels (loss, phase 2) instead of three: no empty validation panel
    assert without.shape[1] < 0.8 * with_val.shape[1]
    text = " ".join(_parse(build_report(bundle, render_cortex=False)).text)
    assert "No validation accuracy is drawn: the analysis had no validation windows (0 in the split)" in text


def test_cortex_images_carry_their_colour_scale():
    from matplotlib import colormaps

    from eegfmri_viewer.report.cortex_images import CLASS_SCALE_TEXT, with_colour_bar

    image = np.full((300, 600, 3), 255, np.uint8)
    out = with_colour_bar(image, 0.2, 0.4, "hot", "rest CAM; grey: below 0.2 or no ROI")
    assert out.shape[1] == 600 and out.shape[0] > 300 and (out[:300] == 255).all()
    strip = out[300:].reshape(-1, 3).astype(int)
    # the colour map's middle (orange of 'hot') is drawn in the strip: a bar, not only text
    mid = (np.array(colormaps["hot"](0.5)[:3]) * 255).astype(int)
    assert (np.abs(strip - mid).max(axis=1) <= 12).sum() > 50
    assert "own scale" in CLASS_SCALE_TEXT


def test_comparison_section_leads_with_its_warnings_and_how_small_p_can_be(tmp_path):
    from eegfmri_viewer.comparison.resolution import class_resolution_text

    make_bundle(tmp_path / "a")
    make_bundle(tmp_path / "b", seed=1)
    a, b = load_bundle(tmp_path / "a"), load_bundle(tmp_path / "b")
    for bundle in (a, b):
        bundle.manifest["input_files"] = {"bold.nii.gz": "sha256:0123"}  # the same inputs analysed twice
        w = bundle.arrays["windows"]
        w["blocks"] = w["labels"] + 3 * (np.arange(len(w["labels"])) // 12)  # 2 blocks per class and side
    cmp = compare_bundles(a, b, n_permutations=200, unit="blocks")
    text = build_report(a, comparison=cmp, bundle_b=b, render_cortex=False)
    section = text.split("<h2>What changed")[1]
    warning = section.index("both bundles were computed from the same input files")
    assert warning < section.index("<p>Difference B − A")
    assert "<b>No ROI can be significant</b> in every class" in section
    floor = class_resolution_text(cmp, 0)
    assert floor.startswith("2 vs 2 blocks; smallest possible p 0.") and floor.endswith("none can reach q < 0.05")
    assert section.index("No ROI can be significant") < section.index("<p>Difference B − A")
    for i, name in enumerate(a.classes):
        assert f"{name}: 0 significant ROI(s) [{class_resolution_text(cmp, i)}]" in " ".join(_parse(section).text)


@pytest.mark.gui
def test_class_cortex_image_colours_only_positive_cam(tmp_path):
    from eegfmri_viewer.report.cortex_images import CortexRenderer

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    renderer = CortexRenderer(bundle.get("saliency", "roi_coords"))
    coords = bundle.get("saliency", "roi_coords")
    values = -np.linspace(1.0, 5.0, len(coords))  # no ROI supports the class ...
    values[np.argmin(np.abs(coords - [-58.0, -20.0, 8.0]).sum(1))] = 0.3  # ... but one on the left lateral cortex
    image = _decode("data:image/png;base64," + base64.b64encode(renderer.render(values, "x")).decode())
    brains = image[:-90].astype(int)
    coloured = (brains.max(axis=2) - brains.min(axis=2)) > 60  # grey and white are not
    # only the one positive ROI is coloured, not the strongly negative rest
    assert 0 < coloured.sum() < 0.02 * coloured.size
    # and the scale tops out at its CAM, not at the negative ROIs' magnitude (0.3 of 5 would be near black)
    assert (coloured & (brains[..., 0] > 130) & (brains[..., 1] > 60)).sum() > 5


def test_report_and_compare_command_say_how_small_p_can_be_in_the_same_words(tmp_path, capsys):
    from eegfmri_viewer.cli import main
    from eegfmri_viewer.comparison.compare import load_compare
    from eegfmri_viewer.comparison.resolution import class_resolution_text

    for name, seed in (("a", 0), ("b", 1)):
        bundle = make_bundle(tmp_path / "made" / name, seed=seed, phase2=False)
        w = bundle.arrays["windows"]
        w["blocks"] = w["labels"] + 3 * (np.arange(len(w["labels"])) // 12)  # 2 blocks per class and side
        save_bundle(tmp_path / name, bundle)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--unit", "blocks", "--permutations", "100",
                 "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    result = load_compare(tmp_path / "cmp")
    for i in range(len(result.arrays["classes"])):
        text = class_resolution_text(result, i)
        assert text and f"[{text}]" in printed


def test_salient_connections_follow_the_rule_of_the_regions_table(tmp_path):
    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    sal = bundle.arrays["saliency"]
    conn = sal["fmri_connections"]
    score = sal["fmri_connection_saliency"]
    score[0] = -np.linspace(1.0, 2.0, score.shape[1])  # class 0: every edge against the class ...
    sal["salient_fmri_connections"][0] = True  # ... though the argmax votes call all of them salient
    empty = int(conn[0, 0])
    keep = [e for e in range(conn.shape[1]) if empty not in conn[:, e]][:3]
    touching = next(e for e in range(1, conn.shape[1]) if empty in conn[:, e])
    score[0, keep] = [0.9, 0.8, 0.7]
    score[0, touching] = 5.0  # the strongest, but one end has no BOLD signal
    for rec in bundle.dataset["recordings"]:
        rec["empty_rois"] = [empty]
    cam = sal["fmri_cam"]
    cam[0] = -1.0
    a, b = int(conn[0, keep[0]]), int(conn[1, keep[0]])
    cam[0, [a, b]] = 1.0  # only the ends of the first edge support the class
    rows = top_salient_connections(bundle, 0, n=10)
    assert [(r["a"], r["b"]) for r in rows] == [(int(conn[0, e]), int(conn[1, e])) for e in keep]
    assert all(r["saliency"] > 0 for r in rows)
    # "both salient" is the regions table's: both ends listed there (positive CAM, BOLD signal)
    listed = {r["roi"] for r in top_salient_rois(bundle, 0, n=10)}
    assert listed == {a, b}
    assert [r["salient"] for r in rows] == [True, False, False]
    text = " ".join(_parse(build_report(bundle, render_cortex=False)).text)
    assert "Only 3 of the 10 asked for: no other edge between ROIs with BOLD signal has a positive saliency" in text
    assert "both ends are among the class's 10 most salient regions listed above" in text


def _changed_bundles(tmp_path, roi):
    """Bundles A and B where ``roi`` changes most in class 2 (B's windows of class 2 raised there)."""
    make_bundle(tmp_path / "a")
    after = load_bundle(tmp_path / "a")
    w = after.arrays["windows"]
    w["fmri_cam"][w["labels"] == 2, roi] += 5.0
    save_bundle(tmp_path / "b", after)
    return load_bundle(tmp_path / "a"), load_bundle(tmp_path / "b")


def test_changes_leave_out_rois_without_bold_on_either_side(tmp_path, capsys):
    from eegfmri_viewer.cli import main
    from eegfmri_viewer.comparison.compare import load_compare, save_compare, top_changes
    from eegfmri_viewer.report.roi_context import compared_rois_without_bold, rois_without_bold

    roi = 200
    before, after = _changed_bundles(tmp_path, roi)
    cmp = compare_bundles(before, after, n_permutations=200, unit="windows")
    assert top_changes(cmp, 2, n=1)[0]["roi_index"] == roi  # with BOLD everywhere it is the largest change
    after.dataset["recordings"][0]["empty_rois"] = [roi, 7]
    after.dataset["recordings"][1]["empty_rois"] = [roi]  # no BOLD at ROI 200 in B (7 has BOLD in one run)
    save_bundle(tmp_path / "b2", after)
    after = load_bundle(tmp_path / "b2")
    cmp = compare_bundles(before, after, n_permutations=200, unit="windows")
    assert list(cmp.arrays["rois_without_bold"]) == [roi]
    for c in range(3):
        assert roi not in [r["roi_index"] for r in top_changes(cmp, c, n=264)]
    # compare.json and the command's lines too
    save_compare(cmp, tmp_path / "cmp")
    import json

    summary = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert all(roi not in [r["roi_index"] for r in rows] for rows in summary["top_changes"].values())
    assert list(load_compare(tmp_path / "cmp").arrays["rois_without_bold"]) == [roi]
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b2"), "--unit", "windows", "--permutations", "50",
                 "--out", str(tmp_path / "cmp2")]) == 0
    name = str(before.get("saliency", "roi_names")[roi])
    assert f"largest change {name} " not in capsys.readouterr().out
    # the report's change tables, with a note naming it
    changed = build_report(before, comparison=cmp, bundle_b=after, render_cortex=False).split("<h2>What changed")[1]
    assert f">{name}</span>" not in changed
    assert f"1 ROI(s) without BOLD signal in A or B ({name}) are left out" in " ".join(_parse(changed).text)
    # a ROI empty on one side counts; per session within one bundle
    assert list(compared_rois_without_bold({"recordings": [{"empty_rois": [3]}]},
                                           {"recordings": [{"empty_rois": [4]}]})) == [3, 4]
    one = {"recordings": [{"session": "1", "empty_rois": [3, 5]}, {"session": "2", "empty_rois": [5]}]}
    assert list(rois_without_bold(one, session="1")) == [3, 5] and list(rois_without_bold(one)) == [5]


def _chance_metrics(bundle, test_acc):
    """Give the fMRI model a chance test: 12 test windows, 4 per class."""
    bundle.metrics["phase1"]["fmri"].update(test_acc=test_acc, test_balanced_acc=test_acc, n_test=12,
                                            n_test_per_class=[4, 4, 4])


def test_comparison_report_gives_b_accuracy_and_cautions_when_chance_is_not_beaten(tmp_path):
    from eegfmri_viewer.report.html import model_beats_chance

    make_bundle(tmp_path / "a")
    make_bundle(tmp_path / "b", seed=1)
    a, b = load_bundle(tmp_path / "a"), load_bundle(tmp_path / "b")
    _chance_metrics(a, 0.25)  # 3 of 12: not shown to beat chance
    _chance_metrics(b, 0.75)  # 9 of 12 against 1/3: beats it
    assert model_beats_chance(a) is False and model_beats_chance(b) is True
    cmp = compare_bundles(a, b, n_permutations=50, unit="windows")
    text = build_report(a, comparison=cmp, bundle_b=b, render_cortex=False)
    plain = " ".join(_parse(text).text)
    assert "A: fMRI (ROIs) 0.25" in plain and "B: fMRI (ROIs) 0.75" in plain
    for section in ("<h2>Saliency on the cortex", "<h2>Most salient regions", "<h2>Most salient connections"):
        head = text.split(section)[1].split("<p")[1]
        assert "The fMRI model of A is not shown to beat chance" in head
    changed = text.split("<h2>What changed")[1]
    assert changed.split("</h2>")[1].lstrip().startswith('<p class="warn"><b>Caution:</b> The fMRI model of A is '
                                                          "not shown to beat chance")
    # both beat chance: no caution anywhere
    _chance_metrics(a, 0.75)
    assert "Caution:" not in build_report(a, comparison=cmp, bundle_b=b, render_cortex=False)
    # two sessions of one bundle: one model, no B rows
    _chance_metrics(a, 0.25)
    text = build_report(a, comparison=cmp, bundle_b=a, render_cortex=False)
    assert "B: fMRI" not in text and "A: fMRI" not in text
    assert "The fMRI model is not shown to beat chance" in text.split("<h2>What changed")[1]


def test_cortex_images_say_they_show_the_surface_and_name_top_rois_not_drawn(tmp_path):
    from eegfmri_viewer.report.cortex_images import CLASS_SCALE_TEXT, rois_on_cortex

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    drawn = rois_on_cortex(bundle.get("saliency", "roi_coords"))
    assert drawn.mean() > 0.5 and not drawn.all()
    deep = int(np.flatnonzero(~drawn)[0])
    assert "interpolated onto the cortex surface from the ROIs within reach" in CLASS_SCALE_TEXT
    assert "(e.g. subcortical) is not drawn" in CLASS_SCALE_TEXT
    images = {f"class:{c}": _png_bytes() for c in bundle.classes}
    name = str(bundle.get("saliency", "roi_names")[deep])
    bundle.arrays["saliency"]["fmri_cam"][:, ~drawn] = -1.0  # every ROI off the surface: against each class
    assert "Not drawn" not in build_report(bundle, cortex_images=images)
    bundle.arrays["saliency"]["fmri_cam"][1, deep] = 10.0  # class 1's top ROI lies off the surface
    captions = build_report(bundle, cortex_images=images).split("<figcaption>")[1:]
    assert "Not drawn" not in captions[0] and "Not drawn" not in captions[2]
    assert (f"Not drawn, deeper than the cortex surface reaches (e.g. subcortical), of the class's top 5 ROIs: "
            f"{name} (rank 1, CAM 10)") in captions[1]


def _png_bytes():
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.gui
def test_cortex_image_with_nothing_to_colour_says_so_instead_of_a_colour_bar(tmp_path):
    from eegfmri_viewer.report.cortex_images import CortexRenderer

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    renderer = CortexRenderer(bundle.get("saliency", "roi_coords"))
    n = len(bundle.get("saliency", "roi_coords"))

    def strip(png):
        image = _decode("data:image/png;base64," + base64.b64encode(png).decode()).astype(int)
        below = image[-75:]
        return (below.max(axis=2) - below.min(axis=2)) > 60  # coloured pixels (a bar); text and white are grey

    assert strip(renderer.render(np.linspace(0.1, 1.0, n), "x")).sum() > 50  # a real scale has its bar
    assert strip(renderer.render(-np.ones(n), "x", nothing_text="no positive CAM")).sum() == 0
    diff = np.linspace(-1.0, 1.0, n)
    assert strip(renderer.render(diff, "x", symmetric=True, mask=np.zeros(n, bool))).sum() == 0


def test_settings_are_a_table_with_each_band_on_one_line(tmp_path):
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    make_bundle(tmp_path / "a")
    bundle = load_bundle(tmp_path / "a")
    bundle.config = AnalysisConfig().to_dict()
    bundle.config["preprocessing"]["marked_bad"] = {}
    section = build_report(bundle, render_cortex=False).split("<h2>Settings</h2>")[1].split("<h2>")[0]
    assert "<pre>" not in section
    bands = bundle.config["preprocessing"]["bands"]
    assert "<td>preprocessing</td><td>bands</td><td>" + "<br>".join(
        f"{b[0]} {b[1]:g}–{b[2]:g} Hz" for b in bands) + "</td>" in section
    assert "<td>preprocessing</td><td>marked_bad</td><td>none</td>" in section
    # every setting keeps its row
    rows = section.count("<tr>") - 1
    n_settings = sum(len(v) if isinstance(v, dict) else 1 for v in bundle.config.values())
    assert rows == n_settings
    for table, values in bundle.config.items():
        for key, value in (values.items() if isinstance(values, dict) else []):
            if value is not None and not isinstance(value, dict):
                assert f"<td>{table}</td><td>{key}</td>" in section
