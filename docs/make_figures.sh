#!/usr/bin/env bash
# Regenerate every figure and table shown in README.md and docs/ODD.md from the code:
#
#   docs/make_figures.sh                 # about 8 minutes on 2 idle cores
#
# (Timed end to end: 475 s on 2 idle cores; 1,276 s while a recovery study shared them.)
#
# POSTERIOR (default: `default`, the posterior shipped in sim/data/posterior) is the
# calibration every answer draws its parameter vectors from; BIN and PY the commands.
# Outputs go to results/readme-* (console tables in results/readme-*.txt); the PNGs the
# README shows are copied to docs/img; docs/readme_answers.py writes the answer tables to
# results/readme-answers.md (pasted into README.md and docs/ODD.md) and draws
# docs/img/window_fit.png and docs/img/pseudo_oos.png.
#
# Budget (to stay near 20 minutes on 2 cores, replications are smaller than a study would
# use; every table says its n): window fit 40 posterior draws; pseudo-out-of-sample
# calibration population 100, 4 generations, at most 1,000 simulations at scale 0.003 (far smaller than the shipped
# posterior's); reach 64 Latin-hypercube points x 2 replications per scenario; compare 20
# replications; sweep 8 x 2; Sobol N = 64 x 2; Morris 20 trajectories x 2.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin/innosim}
PY=${PY:-.venv/bin/python}
POSTERIOR=${POSTERIOR:-default}
R=results
mkdir -p $R
T0=$(date +%s)
stamp() { echo "== $1 ($(( $(date +%s) - T0 )) s)"; }

# 1. The training-window fit of the posterior: 2008-2015, growth from the observed 2008 value.
stamp "window fit"
$BIN validate --scenario window_2008_2015 --posterior "$POSTERIOR" --replications 40 --scale 0.003 \
    --out $R/readme-window | tee $R/readme-window.txt

# 2. Pseudo-out-of-sample: calibrate on the years up to 2012 only, on a scenario that holds
#    no information after 2012 (window_oos_2012: demand growth 2013-2015 = the 2009-2012
#    average), then forecast 2013-2015 from 2012 and score it beside the 2008-2012 trend.
stamp "pseudo-out-of-sample calibration"
rm -rf $R/readme-oos-cal
$BIN calibrate window_oos_2012 --until 2012 --population 100 --generations 4 --max-simulations 1000 \
    --scale 0.003 --workers 2 --out $R/readme-oos-cal | tee $R/readme-oos-cal.txt
stamp "pseudo-out-of-sample forecast"
$BIN validate --scenario window_oos_2012 --posterior $R/readme-oos-cal --base-year 2012 --replications 40 \
    --scale 0.003 --out $R/readme-oos | tee $R/readme-oos.txt
$BIN validate --scenario window_oos_2012 --base-year 2012 --replications 40 --scale 0.003 \
    --out $R/readme-oos-default | tee $R/readme-oos-default.txt
# the same forecast against a trend fitted across the statistical breaks (2009 census, 2011 threshold)
$BIN validate --scenario window_oos_2012 --posterior $R/readme-oos-cal --base-year 2012 --replications 40 \
    --scale 0.003 --ignore-breaks --out $R/readme-oos-nobreaks | tee $R/readme-oos-nobreaks.txt
# the same posterior given the realised 2013-2015 demand growth (a conditional forecast, for contrast)
$BIN validate --scenario window_2008_2015 --posterior $R/readme-oos-cal --base-year 2012 --replications 40 \
    --scale 0.003 --out $R/readme-oos-cond | tee $R/readme-oos-cond.txt

# 3. The answers: P(reach) of every 2020 target on the three paths, with and without the posterior.
stamp "reach"
$BIN reach baseline policy_2016_2020 plan_full --posterior "$POSTERIOR" --lhs 64 --replications 2 \
    --out $R/readme-reach --overwrite --no-progress | tee $R/readme-reach.txt
$BIN reach baseline policy_2016_2020 plan_full --lhs 64 --replications 2 \
    --out $R/readme-reach-seed --overwrite --no-progress | tee $R/readme-reach-seed.txt

# 4. The command examples of the README, all with the posterior.
stamp "run, compare, sweep"
$BIN run policy_2016_2020 --posterior "$POSTERIOR" --replications 40 --out $R/readme-run --overwrite \
    | tee $R/readme-run.txt
$BIN compare policy_2016_2020 baseline plan_full cf_no_deduction_increase cf_guidance_doubled \
    cf_mobility_closed cf_thresholds_2015 cf_vouchers_at_scale --posterior "$POSTERIOR" \
    --replications 20 --out $R/readme-compare --overwrite | tee $R/readme-compare.txt
$BIN sweep policy_2016_2020 --posterior "$POSTERIOR" \
    --levels levers.super_deduction.rate_manufacturing=0.5,0.75,1.0 \
    --levels levers.hightech.audit_intensity=0.02,0.05,0.2 --lhs 8 --replications 2 \
    --out $R/readme-sweep --overwrite --no-progress | tee $R/readme-sweep.txt
stamp "sensitivity"
$BIN sensitivity baseline --posterior "$POSTERIOR" --method sobol --n 64 --replications 2 \
    --out $R/readme-sobol --overwrite --no-progress | tee $R/readme-sobol.txt
$BIN sensitivity baseline --posterior "$POSTERIOR" --method morris --n 20 --replications 2 \
    --out $R/readme-morris --overwrite --no-progress | tee $R/readme-morris.txt

stamp "reports and figures"
for d in readme-run readme-compare readme-reach readme-sweep readme-sobol readme-morris; do $BIN report $R/$d; done
cp $R/readme-run/T5_rd_intensity_industry_pct.png docs/img/run_T5.png
cp $R/readme-compare/compare_targets.png docs/img/compare_targets.png
cp $R/readme-compare/compare_fiscal.png docs/img/compare_fiscal.png
cp $R/readme-reach/analysis/reachability.png docs/img/reach.png
cp $R/readme-reach/analysis/fan_rd_intensity_industry_pct.png docs/img/fan_T5.png
cp $R/readme-sweep/analysis/heat_policy_2016_2020_T5.png docs/img/sweep_heatmap_T5.png
cp $R/readme-sobol/analysis/sobol_rd_intensity_industry_pct.png docs/img/sobol_T5.png
cp $R/readme-morris/analysis/morris_rd_intensity_industry_pct.png docs/img/morris_T5.png
POSTDIR=$($PY -c "import sys; from experiments.posterior import load_posterior; from pathlib import Path; print(Path(load_posterior(sys.argv[1]).path).parent)" "$POSTERIOR")
$PY docs/readme_answers.py $R "$POSTDIR"
stamp "done"
