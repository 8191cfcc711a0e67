"""The smallest analysis settings that still run every stage of the real pipeline."""


def fast_config():
    """Two bands, two epochs, a tiny phase 2 and no permutations: seconds on the small demo.

    Returns
    -------
    config : AnalysisConfig
    """
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    return AnalysisConfig().with_overrides(
        training={"epochs": 2, "patience": 0},
        preprocessing={"bands": [["alpha", 8.0, 13.0], ["beta", 13.0, 30.0]]},
        phase1={"hidden": [8], "n_filters": 4},
        graph={"transfer": "distance"},
        phase2={"epochs": 1, "n_salient": 8},
        coupling={"n_permutations": 0},
    )
