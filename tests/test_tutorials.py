"""The seven tutorials run as plain scripts in their fast mode and write their figures (executed documentation)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
FIGURES = {
    "01_intra_kernel_correlations.py": ["01_kernel_slices.png", "01_pca_of_slices.png", "01_pc1_histogram.png"],
    "02_regular_to_bsconv_u.py": ["02_kernel_from_blueprints.png", "02_cost_ratio.png"],
    "03_bsconv_s_orthonormal_subspace.py": ["03_orthonormal_descent.png"],
    "04_dsc_is_reversed_bsconv.py": ["04_intra_vs_cross_fit.png", "04_fit_errors.png"],
    "05_backprop_by_hand.py": ["05_finite_difference_step.png", "05_gradient_checks.png"],
    "06_the_fast_path.py": ["06_timing.png"],
    "07_training_with_pytorch.py": [
        "07_training_curves.png", "07_conversion.png", "07_pc1_histogram.png", "07_kernel_slices.png",
        "07_bsconv_u_weight_spectrum.png",
    ],
}


def test_every_tutorial_is_listed_here_and_in_the_readme():
    scripts = sorted(p.name for p in TUTORIALS.glob("[0-9][0-9]_*.py"))
    assert scripts == sorted(FIGURES)
    readme = (TUTORIALS / "README.md").read_text()
    assert all(name in readme for name in scripts)


@pytest.mark.parametrize("script", sorted(FIGURES))
def test_tutorial_runs_and_saves_its_figures(script, tmp_path):
    env = {
        **os.environ,
        "BLUEPRINT_TUTORIAL_FAST": "1",
        "BLUEPRINT_TUTORIAL_OUT": str(tmp_path),
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    run = subprocess.run([sys.executable, str(TUTORIALS / script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, f"{script} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    for figure in FIGURES[script]:
        path = tmp_path / figure
        assert path.is_file() and path.stat().st_size > 10_000, f"{script} did not write {figure}"
