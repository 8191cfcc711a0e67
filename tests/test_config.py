"""AnalysisConfig: TOML round trip and validation with errors naming file and key."""

import pytest

from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.pipeline.config import AnalysisConfig


def write(tmp_path, text):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_round_trip(tmp_path):
    cfg = AnalysisConfig()
    path = tmp_path / "c.toml"
    cfg.to_toml(path)
    assert AnalysisConfig.from_toml(path) == cfg
    assert cfg.phase1.K == 3 and cfg.graph.k == 8 and cfg.preprocessing.hrf_delay_s == 5.0
    assert cfg.preprocessing.atlas == "power2011" and cfg.phase2.rho == 0.8


def test_partial_file_keeps_defaults(tmp_path):
    cfg = AnalysisConfig.from_toml(write(tmp_path, "[training]\nepochs = 7\nlevel = 'individual'\n"
                                                   "[preprocessing]\nbands = [['alpha', 8, 13]]\n"))
    assert cfg.training.epochs == 7 and cfg.training.level == "individual"
    assert cfg.training.lr == AnalysisConfig().training.lr
    assert cfg.preprocessing.bands == [["alpha", 8, 13]]
    assert isinstance(cfg.phase1.fmri_kernel_s, float)


def test_unknown_key_names_file_and_key(tmp_path):
    path = write(tmp_path, "[training]\nepochz = 7\n")
    with pytest.raises(InputError) as info:
        AnalysisConfig.from_toml(path)
    msg = str(info.value)
    assert str(path) in msg and "epochz" in msg and "[training]" in msg and "epochs" in msg
    assert info.value.path == path


def test_unknown_table(tmp_path):
    with pytest.raises(InputError, match=r"unknown table or key \[phase3\]"):
        AnalysisConfig.from_toml(write(tmp_path, "[phase3]\nx = 1\n"))
    with pytest.raises(InputError, match=r"\[seed\]"):
        AnalysisConfig.from_toml(write(tmp_path, "seed = 1\n"))


@pytest.mark.parametrize("text, fragment", [
    ("[training]\nepochs = 'ten'\n", "epochs must be an integer"),
    ("[training]\nepochs = 2.5\n", "epochs must be an integer"),
    ("[phase1]\neeg = 1\n", "eeg must be true or false"),
    ("[graph]\nk = true\n", "k must be an integer"),
    ("[training]\nlevel = 'everyone'\n", "level: must be 'group' or 'individual'"),
    ("[phase1]\nK = 0\n", "K: must be at least 1"),
    ("[preprocessing]\nbands = [['alpha', 13, 8]]\n", "needs 0 < low < high"),
    ("[phase2]\nrho = 1.5\n", "rho: must lie in [0, 1]"),
    ("[coupling]\nn_permutations = -1\n", "n_permutations"),
    ("[training]\nval_fraction = 0.5\ntest_fraction = 0.5\n", "must be below 1"),
])
def test_bad_values(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        AnalysisConfig.from_toml(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_not_toml_and_missing(tmp_path):
    with pytest.raises(InputError, match="not valid TOML"):
        AnalysisConfig.from_toml(write(tmp_path, "[training\n"))
    with pytest.raises(InputError, match="not found"):
        AnalysisConfig.from_toml(tmp_path / "absent.toml")


def test_with_overrides_validates():
    cfg = AnalysisConfig().with_overrides(training={"epochs": 3})
    assert cfg.training.epochs == 3
    with pytest.raises(InputError, match="unknown key 'nope'"):
        AnalysisConfig().with_overrides(training={"nope": 3})


def test_every_key_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text(encoding="utf-8")
    for table, klass in AnalysisConfig.tables().items():
        assert f"[{table}]" in doc
        for name in klass.__dataclass_fields__:
            assert f"`{name}`" in doc, f"[{table}] {name} is not documented in docs/config.md"


# -- field metadata: choices and docstrings ----------------------------------------------------

ENUMERATED = {
    ("preprocessing", "bold_scaling"): ("subject", "run"),
    ("preprocessing", "bad_channels"): ("interpolate", "drop"),
    ("preprocessing", "windowing"): ("blocks", "events"),
    ("graph", "kind"): ("functional", "spatial"),
    ("graph", "transfer"): ("mne", "distance"),
    ("phase1", "cam_reference"): ("average", "none"),
    ("training", "level"): ("group", "individual"),
    ("phase2", "centring"): ("nodes_windows", "nodes", "none"),
    ("coupling", "null"): ("shift", "blocks"),
}


def test_choices_are_declared_as_field_metadata():
    from eegfmri_viewer.pipeline.config_fields import field_choices

    declared = {(table, key): choices for table, klass in AnalysisConfig.tables().items()
                for key, choices in field_choices(klass).items()}
    assert declared == ENUMERATED
    defaults = AnalysisConfig().to_dict()
    for (table, key), choices in declared.items():
        assert defaults[table][key] in choices


@pytest.mark.parametrize("table, key, message", [
    ("coupling", "null", "null: must be 'shift' or 'blocks', got 'x'"),
    ("phase2", "centring", "centring: must be 'nodes_windows', 'nodes' or 'none', got 'x'"),
    ("preprocessing", "bold_scaling", "bold_scaling: must be 'subject' or 'run', got 'x'"),
    ("graph", "kind", "kind: must be 'functional' or 'spatial', got 'x'"),
    ("graph", "transfer", "transfer: must be 'mne' or 'distance', got 'x'"),
    ("phase1", "cam_reference", "cam_reference: must be 'average' or 'none', got 'x'"),
    ("training", "level", "level: must be 'group' or 'individual', got 'x'"),
])
def test_every_choice_field_rejects_other_values(tmp_path, table, key, message):
    path = write(tmp_path, f"[{table}]\n{key} = 'x'\n")
    with pytest.raises(InputError) as info:
        AnalysisConfig.from_toml(path)
    assert f"[{table}] {message}" in str(info.value)
    # every listed choice is accepted
    for choice in ENUMERATED[(table, key)]:
        cfg = AnalysisConfig().with_overrides(**{table: {key: choice}})
        assert getattr(getattr(cfg, table), key) == choice


def test_a_choice_added_to_the_metadata_is_validated_from_there():
    import dataclasses

    from eegfmri_viewer.pipeline.config_fields import choice_field, choice_problems

    @dataclasses.dataclass
    class Table:
        mode: str = choice_field("a", ("a", "b", "c"))
        other: str = "free"

    assert choice_problems(Table(mode="c", other="anything")) == []
    assert choice_problems(Table(mode="d")) == ["mode: must be 'a', 'b' or 'c', got 'd'"]
    with pytest.raises(ValueError, match="not one of the choices"):
        choice_field("z", ("a", "b"))


def test_parse_attributes_reads_numpydoc_entries():
    from eegfmri_viewer.pipeline.config_fields import parse_attributes

    doc = '''Summary line.

    Attributes
    ----------
    alpha : float
        First line of alpha,
        second line.
    lo, hi : int
        Shared range.
    flag
        No type given.

    Notes
    -----
    not_an_entry : str
        Belongs to the notes.
    '''
    entries = parse_attributes(doc)
    assert entries == {
        "alpha": ("float", "First line of alpha, second line."),
        "lo": ("int", "Shared range."),
        "hi": ("int", "Shared range."),
        "flag": ("", "No type given."),
    }
    assert parse_attributes("No sections here.") == {}


def test_plain_text_removes_rst_markup():
    from eegfmri_viewer.pipeline.config_fields import plain_text

    assert plain_text("at least ``block_s``; see :mod:`a.b.c` and :class:`~x.y.Z`") == \
        "at least block_s; see a.b.c and Z"


def test_every_key_has_a_docstring_entry():
    from eegfmri_viewer.pipeline.config_fields import attribute_docs

    for table, klass in AnalysisConfig.tables().items():
        docs = attribute_docs(klass)
        for name in klass.__dataclass_fields__:
            assert docs.get(name, "").strip(), f"[{table}] {name} has no entry in {klass.__name__}'s Attributes"
        assert set(docs) <= set(klass.__dataclass_fields__)
    # an entry naming several fields ("a, b : float") gives each of them its text
    import dataclasses

    @dataclasses.dataclass
    class Shared:
        """Settings.

        Attributes
        ----------
        low, high : float
            Range of BOLD shifts.
        """

        low: float = 0.0
        high: float = 1.0

    shared = attribute_docs(Shared)
    assert shared["low"] == shared["high"] == "Range of BOLD shifts."
