"""Sobol' indices of the Ishigami function through the full pipeline (design -> run ->
store -> analyse), against the analytic values; the noise share against its exact value."""
import json
import math

import numpy as np
import pytest

from experiments import Ishigami, morris_design, run_experiment, sobol_design

A, B = 7.0, 0.1
V = A**2 / 8 + B * math.pi**4 / 5 + B**2 * math.pi**8 / 18 + 0.5
S1 = [(0.5 * (1 + B * math.pi**4 / 5) ** 2) / V, A**2 / 8 / V, 0.0]
ST = [(0.5 * (1 + B * math.pi**4 / 5) ** 2 + 8 * B**2 * math.pi**8 / 225) / V, A**2 / 8 / V,
      (8 * B**2 * math.pi**8 / 225) / V]


def test_analytic_values_are_the_textbook_ones():
    assert np.allclose(S1, [0.3139, 0.4424, 0.0], atol=1e-4)
    assert np.allclose(ST, [0.5576, 0.4424, 0.2437], atol=1e-4)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    out = tmp_path_factory.mktemp("sobol") / "noisy"
    model = Ishigami(noise_sd=1.0)
    run_experiment(sobol_design(model, n=2048, replications=4, seed=11), model, out,
                   workers=1, progress=False)
    return json.loads((out / "analysis" / "sobol.json").read_text())


def test_sobol_indices_match_ishigami(noisy):
    r = noisy["indicators"]["y"]
    assert r["status"] == "ok"
    s1, st = np.array(r["S1"]), np.array(r["ST"])
    assert np.all(np.abs(s1 - S1) < 0.05), s1
    assert np.all(np.abs(st - ST) < 0.05), st
    # the reported 95% intervals are honest: they cover the truth (with slack for 6 checks)
    assert np.all(np.abs(s1 - S1) < 1.5 * np.array(r["S1_conf"]) + 0.01)
    assert np.all(np.abs(st - ST) < 1.5 * np.array(r["ST_conf"]) + 0.01)
    # a wrong index assignment (e.g. factor columns shuffled) would fail this ordering check
    assert st[0] > st[1] > st[2] and s1[2] < 0.05


def test_noise_share_reported(noisy):
    noise = noisy["indicators"]["y"]["noise"]
    # the added noise has variance 1; a single run's variance is V + 1
    assert noise["replications"] == 4
    assert abs(noise["within_point_variance"] - 1.0) < 0.05
    assert abs(noise["noise_share_single_run"] - 1 / (V + 1)) < 0.01
    assert abs(noise["noise_share_of_means"] - 0.25 / (V + 0.25)) < 0.01


def test_convergence_table(noisy):
    r = noisy["indicators"]["y"]
    ns = [c["n"] for c in r["convergence"]]
    assert ns == [128, 256, 512, 1024, 2048]
    # the intervals shrink as N grows (roughly as 1/sqrt(N))
    w = [max(c["ST_conf"]) for c in r["convergence"]]
    assert w[-1] < w[0] / 2
    assert r["converged"] is True


def test_morris_ranks_ishigami(tmp_path):
    model = Ishigami()
    run_experiment(morris_design(model, n=40, replications=1, seed=2), model, tmp_path / "m",
                   workers=1, progress=False)
    r = json.loads((tmp_path / "m" / "analysis" / "morris.json").read_text())["indicators"]["y"]
    mu_star, sigma = np.array(r["mu_star"]), np.array(r["sigma"])
    # x2 acts alone (sigma from nonlinearity only), x3 acts only through x1 (mu ~ 0)
    assert mu_star.min() > 0 and abs(r["mu"][2]) < 0.5 * mu_star[2]
    assert np.all(mu_star < 40)
