#!/usr/bin/env bash
# Regenerate the pictures and example outputs shown in README.md (about 15 minutes on
# 2 cores). Results go to results/readme-*; the PNGs the README shows are copied to docs/img.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin/innosim}
R=results
$BIN run scenarios/policy_2016_2020.toml --replications 40 --out $R/readme-run --overwrite | tee $R/readme-run.txt
$BIN compare scenarios/policy_2016_2020.toml scenarios/baseline.toml scenarios/plan_full.toml \
    scenarios/cf_no_deduction_increase.toml scenarios/cf_guidance_doubled.toml scenarios/cf_mobility_closed.toml \
    scenarios/cf_thresholds_2015.toml scenarios/cf_vouchers_at_scale.toml \
    --replications 20 --out $R/readme-compare --overwrite | tee $R/readme-compare.txt
$BIN reach scenarios/baseline.toml scenarios/policy_2016_2020.toml scenarios/plan_full.toml \
    --lhs 64 --replications 2 --out $R/readme-reach --overwrite --no-progress | tee $R/readme-reach.txt
$BIN sweep scenarios/policy_2016_2020.toml --levels levers.super_deduction.rate_manufacturing=0.5,0.75,1.0 \
    --levels levers.hightech.audit_intensity=0.02,0.05,0.2 --lhs 8 --replications 2 \
    --out $R/readme-sweep --overwrite --no-progress | tee $R/readme-sweep.txt
$BIN sensitivity scenarios/baseline.toml --method sobol --n 128 --replications 2 --out $R/readme-sobol --overwrite --no-progress \
    | tee $R/readme-sobol.txt
$BIN sensitivity scenarios/baseline.toml --method morris --n 20 --replications 2 --out $R/readme-morris --overwrite --no-progress \
    | tee $R/readme-morris.txt
for d in readme-run readme-compare readme-reach readme-sweep readme-sobol readme-morris; do $BIN report $R/$d; done
cp $R/readme-run/T5_rd_intensity_industry_pct.png docs/img/run_T5.png
cp $R/readme-compare/compare_targets.png docs/img/compare_targets.png
cp $R/readme-compare/compare_fiscal.png docs/img/compare_fiscal.png
cp $R/readme-reach/analysis/reachability.png docs/img/reach.png
cp $R/readme-reach/analysis/fan_rd_intensity_industry_pct.png docs/img/fan_T5.png
cp $R/readme-sweep/analysis/heat_policy_2016_2020_T5.png docs/img/sweep_heatmap_T5.png
cp $R/readme-sobol/analysis/sobol_rd_intensity_industry_pct.png docs/img/sobol_T5.png
cp $R/readme-morris/analysis/morris_rd_intensity_industry_pct.png docs/img/morris_T5.png
