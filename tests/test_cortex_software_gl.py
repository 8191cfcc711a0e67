"""Cortex view on a software rasteriser (llvmpipe under Xvfb): lighter shading path, same picture."""

import numpy as np
import pytest

from bundle_factory import make_bundle
from eegfmri_viewer.views.cortex_view import diffuse_light_code, is_software_gl


def test_renderer_names_are_classified():
    assert is_software_gl("llvmpipe (LLVM 15.0.6, 256 bits)")
    assert is_software_gl("GDI Generic")
    assert is_software_gl("Google SwiftShader")
    assert not is_software_gl("NVIDIA GeForce RTX 3060/PCIe/SSE2")
    assert not is_software_gl("AMD Radeon Pro 5500M OpenGL Engine")


def test_diffuse_light_code_uses_every_light_and_no_specular_term():
    code = diffuse_light_code(5)
    assert all(f"lightDirectionVC{i}" in code and f"lightColor{i}" in code for i in range(5))
    assert "lightColor5" not in code
    assert "pow(" not in code


def test_software_gl_path_draws_the_same_picture(qapp, tmp_path):
    from eegfmri_viewer.results import load_bundle
    from eegfmri_viewer.state import AppState
    from eegfmri_viewer.views.cortex_view import CortexView

    make_bundle(tmp_path / "b", phase2=False, eeg=True)
    state = AppState()
    view = CortexView(state)
    view.resize(600, 450)
    view.show()
    state.set_results(load_bundle(tmp_path / "b"))
    state.set_class(1)
    state.select_node("roi", 5)
    qapp.processEvents()
    view.plotter.render()
    qapp.processEvents()
    try:
        if not view.software_gl:
            pytest.skip("a hardware OpenGL renderer keeps VTK's shaders and multisampling")
        assert view.plotter.ren_win.GetMultiSamples() == 0
        assert view.cortex_actor.prop.culling == "back"
        fast = np.asarray(view.plotter.screenshot(return_img=True)).astype(int)
        for actor in (view.cortex_actor, view._roi_actor):
            actor.GetShaderProperty().ClearAllFragmentShaderReplacements()
        view.cortex_actor.prop.culling = "none"
        view._roi_actor.prop.culling = "none"
        view.plotter.render()
        reference = np.asarray(view.plotter.screenshot(return_img=True)).astype(int)
        differs = np.abs(fast - reference).sum(axis=-1) > 0
        # salient colours and grey cortex both drawn, identical but for a few edge pixels
        assert differs.mean() < 1e-4
        assert (np.abs(fast - 255).sum(axis=-1) > 30).mean() > 0.2  # the brain fills the view
    finally:
        view.close_plotter()
        view.close()
