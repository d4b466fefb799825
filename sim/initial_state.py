"""Build the 2015 world: firms, research organisations and venture funds at a given scale.

Distributions (each stated in docs/ODD.md with its source):

* industrial revenue: truncated Pareto on [20 m, largest firm] whose mean matches 111 tn
  / 383,000 firms; the largest firms (top stratum) are always represented one agent per
  firm, the rest by stratified quantile sampling with equal weights;
* P(report R&D > 0) logistic in log revenue, level solved to give 19% performers;
* R&D intensity of performers log-normal, falling with size, level solved to give the
  reported R&D total; firms just below a certification threshold bunch (notch rule);
* certification among firms that pass the tests, solved to give 79,000 certified firms;
* the upper tail of R&D (``sim/upper_tail.py``): the 301 mainland firms of the EU R&D
  Scoreboard 2015 as rows of weight 1 (named where the brief names them) at their published
  reported R&D and revenue, carved out of the segment totals (``carve_upper_tail``); no
  other row reports more R&D than the smallest of them.

All totals are matched exactly by construction at every scale (calibration weighting).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from sim.agents import firms as F
from sim.agents.academia import INSTITUTE, UNIVERSITY, ResearchOrgState
from sim.agents.vc import VCFundState
from sim.params import DataError, InitialConditions, Parameters
from sim.policy_context import firm_tax_context
from sim.upper_tail import UpperTail, build_upper_tail, load_upper_tail

TOP_INDUSTRIAL = 300
TOP_SERVICE = 100
SETTLE_ITERATIONS = 12  # alternations of the 2015 notch settlement (totals then exact to ~1e-7)
MIN_ROWS = {"industrial": 200, "service": 300, "startup": 200, "org": 20, "fund": 10}


def truncated_pareto_alpha(mean: float, xmin: float, xmax: float) -> float:
    """Shape alpha of a Pareto on [xmin, xmax] with the given mean."""

    def m(a):
        r = xmin / xmax
        if abs(a - 1.0) < 1e-9:
            return xmin * np.log(xmax / xmin) / (1 - r)
        return a * xmin * (1 - r ** (a - 1)) / ((a - 1) * (1 - r**a))

    return brentq(lambda a: m(a) - mean, 0.3, 10.0)


def truncated_pareto_quantile(u, xmin, xmax, alpha):
    """Inverse CDF: ``x = xmin * (1 - u (1 - (xmin/xmax)^a))^(-1/a)``."""
    return xmin * (1.0 - u * (1.0 - (xmin / xmax) ** alpha)) ** (-1.0 / alpha)


def stratified_uniforms(rng, n: int, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """One uniform draw in each of n equal strata of [lo, hi] (low-variance sampling)."""
    return lo + (hi - lo) * (np.arange(n) + rng.random(n)) / n


def rows_for(real: int, scale: float, top: int, minimum: int) -> tuple[int, int]:
    """(top rows at weight 1, sampled rows) for a population of ``real`` entities."""
    top = min(top, real)
    rest = real - top
    if rest == 0:
        return top, 0
    n = max(minimum, int(round(scale * rest)))
    return top, min(n, rest)


@dataclass
class Calibration:
    """Constants solved at set-up so the 2015 state is reproduced (kept on the model)."""

    psi0: float                 # relabelling ratio at the reference incentive
    tax_saving_ref: float       # reference tax saving per reported yuan
    patent_rate: float          # grants per year per unit K^alpha
    pct_rate: float             # PCT filings per year per unit K * (Y/Yref)^eps
    chi: float                  # technology purchases per unit R^eta
    revenue_ref: float          # million yuan, reference revenue for PCT
    cost_fte: float             # million yuan per R&D FTE
    private_vc_inflow: float    # million yuan per year of new private LP money
    hightech_shortfall: float   # certified firms the tests could not supply (0 if none)
    hightech_revenue_shortfall: float  # million yuan of 2015 high-tech revenue not supplied
    aware_share: float          # share of firms (weighted) aware of certification in 2015
    startup_weight: float       # real start-ups per start-up row
    pareto_alpha: float         # shape of the industrial firm-size distribution
    margin_sd: float            # standard deviation of 2015 profit margins (kept by the margin process)
    industrial_weight: float = 1.0  # real firms per sampled industrial row (entrants into the universe)
    tail_start: int = 0         # first row of the upper tail (rows tail_start .. tail_start + len(tail_names))
    tail_names: tuple = ()      # names of the tail rows ("" synthetic)
    tail_rd_cap: float = float("inf")  # million yuan: reported R&D of the smallest tail firm (cap of other rows)


def _segment_revenue(rng, segment: str, ic: InitialConditions, scale: float):
    """Revenue (million yuan/yr) and weights for one segment."""
    if segment == "industrial":
        n_real, total = ic.industrial_firms, ic.industrial_revenue_tn_yuan * 1e6
        xmin, xmax = ic.min_industrial_revenue_m_yuan, ic.largest_firm_revenue_tn_yuan * 1e6
        alpha = truncated_pareto_alpha(total / n_real, xmin, xmax)
        top, n = rows_for(n_real, scale, TOP_INDUSTRIAL, MIN_ROWS["industrial"])
        u_top = 1.0 - (np.arange(top) + 0.5) / n_real
        u_rest = stratified_uniforms(rng, n, 0.0, 1.0 - top / n_real)
        rev = truncated_pareto_quantile(np.concatenate([u_top, u_rest]), xmin, xmax, alpha)
        w = np.concatenate([np.ones(top), np.full(n, (n_real - top) / max(n, 1))])
        # exact total: stretch revenue above the size threshold
        excess = (w * (rev - xmin)).sum()
        rev = xmin + (rev - xmin) * (total - xmin * w.sum()) / excess
        return rev, w, alpha
    if segment == "service":
        n_real, total, top_n = ic.service_firms, ic.service_revenue_tn_yuan * 1e6, TOP_SERVICE
        sigma, med = 1.6, 30.0
    else:
        n_real, total, top_n = ic.startups, ic.startup_revenue_bn_yuan * 1e3, 0
        sigma, med = 1.0, 2.0
    top, n = rows_for(n_real, scale, top_n, MIN_ROWS[segment])
    from scipy.stats import norm
    u = np.concatenate([1.0 - (np.arange(top) + 0.5) / n_real, stratified_uniforms(rng, n, 0.0, 1.0 - top / n_real)])
    rev = med * np.exp(sigma * norm.ppf(u))
    w = np.concatenate([np.ones(top), np.full(n, (n_real - top) / max(n, 1))])
    rev *= total / (w * rev).sum()
    return rev, w, 0.0


def carve_upper_tail(ic: InitialConditions, tail: UpperTail) -> InitialConditions:
    """The initial conditions of the population *outside* the upper tail: firm counts and
    revenue of the industrial and service segments minus the tail rows (their R&D is
    removed from the segment R&D totals in ``segment_rd_totals``). The national totals
    of the full population are unchanged."""
    ind, srv = tail.segment == F.INDUSTRIAL, tail.segment == F.SERVICE
    out = replace(ic, industrial_firms=ic.industrial_firms - int(ind.sum()),
                  industrial_revenue_tn_yuan=ic.industrial_revenue_tn_yuan - tail.revenue[ind].sum() / 1e6,
                  service_firms=ic.service_firms - int(srv.sum()),
                  service_revenue_tn_yuan=ic.service_revenue_tn_yuan - tail.revenue[srv].sum() / 1e6)
    seg_rd = segment_rd_totals(ic, tail)
    if min(out.industrial_revenue_tn_yuan, out.service_revenue_tn_yuan) <= 0 or min(seg_rd.values()) <= 0 \
            or out.industrial_revenue_tn_yuan * 1e6 <= out.min_industrial_revenue_m_yuan * out.industrial_firms:
        raise DataError("initial: the upper tail (sim/data/upper_tail_2015.toml) leaves no revenue or R&D "
                        "for the rest of a segment; raise the segment totals")
    return out


def segment_rd_totals(ic: InitialConditions, tail: UpperTail | None = None) -> dict[int, float]:
    """Reported R&D per segment (million yuan/yr) of the rows outside the upper tail."""
    nonind_rd = (ic.enterprise_rd_bn_yuan - ic.industrial_rd_bn_yuan) * 1e3
    out = {F.INDUSTRIAL: ic.industrial_rd_bn_yuan * 1e3,
           F.SERVICE: nonind_rd * (1 - ic.startup_rd_share_of_nonindustrial),
           F.STARTUP: nonind_rd * ic.startup_rd_share_of_nonindustrial}
    if tail is not None:
        for sg in (F.INDUSTRIAL, F.SERVICE):
            out[sg] -= tail.rd_reported[tail.segment == sg].sum()
    return out


def fill_rd(w, shape, rev, psi, total, cap_reported, cap_intensity=0.6):
    """Real R&D intensity ``s_i`` of performers so that reported R&D sums to ``total``:

    reported ``R_i = min(C_i, k * shape_i * Y_i * (1 + psi_i))`` with the cap
    ``C_i = min(cap_intensity * Y_i * (1 + psi_i), cap_reported)`` and one level ``k``
    (``sum_i w_i R_i = total``, solved exactly by ``capped_level``); ``s_i = R_i / ((1 + psi_i) Y_i)``.
    ``cap_reported`` keeps every row below the smallest upper-tail firm."""
    scale = rev * (1.0 + psi)
    cap = np.minimum(cap_intensity * scale, cap_reported)
    b = shape * scale
    if (w * cap).sum() <= total:
        raise DataError("initial: segment R&D cannot be placed below the upper tail's smallest firm; "
                        "check sim/data/upper_tail_2015.toml against the segment totals")
    k = capped_level(w * cap, b / cap, total)
    return np.minimum(cap, k * b) / scale
MIN_FREE_SHARE = 0.01  # non-bunching performers keep >= 1% of a segment's reported R&D (assumption)


def free_rescale(total: float, fixed: float, free: float) -> float:
    """Factor on the latent R&D of a segment's non-bunching performers in the 2015 notch
    settlement: ``(total - fixed) / free`` so the segment's reported R&D equals ``total``.

    ``fixed`` is what the certified bunchers report; it does not fall with their latent
    R&D (they report at least their threshold). At very small scales a few heavily
    weighted certified rows can report more than the whole segment (``fixed >= total``),
    and the plain factor would turn negative (negative R&D and knowledge at set-up, NaN
    later). Then the other performers keep ``MIN_FREE_SHARE`` of the total instead and the
    segment overshoots its total by the least amount the drawn certified firms allow.
    The factor is always positive.
    """
    if free <= 0.0:
        return 1.0
    return max(total - fixed, MIN_FREE_SHARE * total) / free


def capped_level(w, b, target):
    """Solve ``sum_i w_i min(1, k b_i) = target`` for k (exactly, by sorting).

    With b sorted in decreasing order and the first j entries capped at 1, the sum is
    ``W_j + k S_j`` (W_j: weight of the capped, S_j: sum of w b over the rest); the
    solution is the k_j that keeps exactly the first j capped. Requires sum(w) > target.
    """
    order = np.argsort(-b, kind="stable")
    w, b = w[order], b[order]
    W = np.concatenate([[0.0], np.cumsum(w)])[:-1]          # weight capped before j
    S = np.cumsum((w * b)[::-1])[::-1]                        # sum of w b from j on
    k = (target - W) / S
    prev_b = np.concatenate([[np.inf], b[:-1]])
    ok = (k * b <= 1.0 + 1e-12) & (k * prev_b >= 1.0 - 1e-12) & (k > 0)
    return float(k[np.argmax(ok)])


def select_certified(u, cand, ind, w, rev, target_ind, target_non, target_revenue):
    """Firms aware of certification, ``P_i = min(1, c_g * (Y_i / Y_med)^kappa)``; the
    certified are the aware candidates (firms passing the tests or willing to bunch).

    The level ``c_g`` per group (industrial / other) matches the count of certified firms;
    the size slope ``kappa`` >= 0 matches their revenue (larger firms gain more from the
    notch and certify subsidiaries). If the candidates cannot supply a target, every
    candidate is certified and the shortfall is reported. Awareness persists: only aware firms
    bunch and apply later. Returns (aware, certified, count shortfall, revenue shortfall).
    """
    ymed = np.median(rev[cand]) if cand.any() else 1.0

    def pick(kappa):
        prob = np.zeros(len(u))
        short = 0.0
        for grp, target in ((ind, target_ind), (~ind, target_non)):
            c = cand & grp
            if (w * c).sum() <= target:
                prob[grp] = 1.0
                short += target - (w * c).sum()
                continue
            base = (rev / ymed) ** kappa
            lvl = capped_level(w[c], base[c], target)
            prob[grp] = np.minimum(1.0, lvl * base)[grp]
        return u < prob, short

    def revenue(kappa):
        aware, _ = pick(kappa)
        return (w * rev * (aware & cand)).sum()

    kappa = 0.0
    if revenue(0.0) < target_revenue:
        lo, hi = 0.0, 3.0
        if revenue(hi) <= target_revenue:
            kappa = hi
        else:
            for _ in range(30):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if revenue(mid) < target_revenue else (lo, mid)
            kappa = hi
    aware, short = pick(kappa)
    chosen = aware & cand
    return aware, chosen, short, max(0.0, target_revenue - (w * rev * chosen).sum())


OWNERSHIP_SHARES = (0.15, 0.70, 0.15)  # state, private, foreign: assumption for the 2015 population


def margin_sd(ic: InitialConditions) -> float:
    """Standard deviation of profit margins: normal with the 2015 mean and loss-making share,
    ``sd = mu / Phi^-1(1 - loss share)``."""
    return ic.industrial_profit_margin / _norm_ppf(1 - ic.loss_making_share)


@functools.lru_cache(maxsize=64)
def _norm_ppf(q: float):
    """``scipy.stats.norm.ppf(q)``, remembered: the firm factory needs it every quarter and
    scipy's distribution machinery costs about 0.3 ms a call (7% of a run)."""
    from scipy.stats import norm
    return norm.ppf(q)


def set_rd_state(f: F.FirmState, p: Parameters, intensity, cost_fte: float, rd_real=None) -> None:
    """R&D state of rows from their desired real intensity ``s`` (steady state at entry):
    ``R = s Y`` (or the given ``rd_real``, which includes notch top-ups), staff ``R / c_fte``,
    knowledge ``K = R / (delta + g)`` (the stock a constant growth path implies),
    ``K0 = K``, knowledge base ``b Y``; cash: start-ups hold what finances their R&D
    (``financed_rd``), others a tenth of revenue."""
    f.rd_base = np.asarray(intensity, float) * np.ones(f.n)
    f.rd_intensity = f.rd_base.copy()
    f.rd_real = f.rd_base * f.revenue if rd_real is None else rd_real
    f.rd_staff = f.rd_real / cost_fte
    f.knowledge = f.rd_real / (p.knowledge_depreciation + p.nominal_growth)
    f.knowledge0 = f.knowledge.copy()
    f.knowledge_base = p.knowledge_base_share * f.revenue
    f.cash = np.where(f.segment == F.STARTUP, f.rd_real / (p.startup_burn_rate * p.startup_rd_share), 0.1 * f.revenue)


def new_firms(rng: np.random.Generator, p: Parameters, ic: InitialConditions, *, segment, revenue, weight,
              rd_intensity, cost_fte: float, aware_share: float, age=0.0, quality_shift: float = 0.0,
              ownership=None) -> F.FirmState:
    """The one firm factory: rows of the start-year population (``build_world``), entrants
    into the above-size universe and start-ups (``sim/phases/demography.py``) are all made
    here, so a new firm differs from a 2015 firm only in the arguments:

    * sector uniform over ``N_SECTORS``; ownership drawn with ``OWNERSHIP_SHARES`` unless given;
    * employees ``max(Y / (Y/L)_2015 * exp(0.3 z), 3)`` (2015 industrial revenue per worker);
    * margin ``N(mu_2015, sd_2015)`` (``margin_sd``; the margin process keeps this distribution);
    * quality ``N(quality_shift, 1)``; landing point above a certification threshold
      ``U(0, notch_margin)``; aware of certification with probability ``aware_share``;
    * R&D from the desired intensity (``set_rd_state``); claims the super-deduction if it
      performs R&D, with probability ``deduction_takeup``; holds core IP if it performs R&D,
      with probability ``core_ip_share`` (``core_ip_at_birth``).
    """
    k = len(revenue)
    f = empty_firms(k)
    f.weight[:] = weight
    f.segment[:] = segment
    f.revenue[:] = revenue
    f.age[:] = age
    f.sector[:] = rng.integers(0, F.N_SECTORS, k)
    f.ownership[:] = rng.choice(3, k, p=OWNERSHIP_SHARES) if ownership is None else ownership
    rev_per_emp = ic.industrial_revenue_tn_yuan / ic.industrial_employees_m  # million yuan per person
    f.employees[:] = np.maximum(f.revenue / rev_per_emp * np.exp(0.3 * rng.standard_normal(k)), 3.0)
    f.margin[:] = ic.industrial_profit_margin + margin_sd(ic) * rng.standard_normal(k)
    f.quality[:] = rng.standard_normal(k) + quality_shift
    f.notch_margin[:] = rng.uniform(0.0, p.notch_margin, k)
    f.ht_aware[:] = rng.random(k) < aware_share
    set_rd_state(f, p, rd_intensity, cost_fte)
    f.claims[:] = (f.rd_real > 0) & (rng.random(k) < p.deduction_takeup)
    f.core_ip[:] = core_ip_at_birth(f.rd_real > 0, rng, p.core_ip_share)
    return f


def core_ip_at_birth(performs: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Core IP (other than invention patents) of new rows: ``core_ip_i = performs_i and U_i < c``,
    c = ``core_ip_share``, one uniform drawn per performing row only (rows without R&D draw
    nothing, so ``build_world``, which sets R&D after the factory, keeps its draws and sets
    core IP itself with the same rule).

    Source: the 2008 certification rules count utility models, software copyrights, designs
    and transferred or exclusively licensed patents as core IP (Guokefahuo [2008] 172,
    art. 10), cheap and common by 2015 (sim/data/parameters.toml). The same share as the
    start-year population: a new firm differs from a start-year firm only in the factory's
    arguments. Before this rule every entrant (start-ups above all) lacked core IP until an
    invention grant, so new start-ups could not certify and the certified count fell as the
    set-up start-ups exited (issue 9 diagnosis)."""
    out = np.zeros(len(performs), bool)
    idx = np.flatnonzero(performs)
    if len(idx):
        out[idx] = rng.random(len(idx)) < share
    return out


def _state_bytes(*arrays) -> tuple[bytes, ...]:
    """The exact bytes of the settlement's state (its fixed-point test)."""
    return tuple(a.tobytes() for a in arrays)


def empty_firms(n: int) -> F.FirmState:
    z = np.zeros(n)
    return F.FirmState(
        weight=z.copy(), alive=np.ones(n, bool), segment=np.zeros(n, np.int8), sector=np.zeros(n, np.int8),
        ownership=np.zeros(n, np.int8), age=z.copy(), revenue=z.copy(), employees=z.copy(), margin=z.copy(),
        rd_staff=z.copy(), rd_base=z.copy(), rd_real=z.copy(), rd_topup=z.copy(), rd_intensity=z.copy(), relabel=z.copy(), knowledge=z.copy(),
        knowledge0=z.copy(), knowledge_base=z.copy(), tech_level=np.ones(n), productivity=np.ones(n), absorptive=z.copy(), cash=z.copy(),
        loss_cf=np.zeros((n, 4, F.CF_YEARS + 1)), claims=np.zeros(n, bool), core_ip=np.zeros(n, bool), patents=z.copy(), pct_propensity=np.ones(n),
        hightech=np.zeros(n, bool), ht_expiry=np.zeros(n, np.int32), buncher=np.zeros(n, bool),
        notch_margin=z.copy(), ht_aware=np.zeros(n, bool), designations=np.zeros(n, np.int16), vc_backed=np.zeros(n, bool),
        vc_invested=z.copy(), vc_fund=np.full(n, -1, np.int32), vc_milestone=np.ones(n), quality=z.copy(), cluster_id=np.full(n, -1, np.int32),
        voucher_rd=np.zeros(n, bool),
    )


def scale_upper_tail(tail: UpperTail, ic: InitialConditions) -> UpperTail:
    """The upper tail at the start year's aggregates (training window, docs/ODD.md):

        R&D_i = R&D_i,2015 * E / E_2015,  Y_i = Y_i,2015 * Y / Y_2015,  PCT_i = PCT_i,2015 * P / P_2015

    with E enterprise R&D, Y industrial revenue and P PCT applications of ``ic`` against the
    2015 data (``initial_2015.toml``): the 2015 micro-structure scaled back. Identity at 2015."""
    from dataclasses import replace

    from sim.params import data_entries
    d15 = data_entries(InitialConditions)
    f_rd = ic.enterprise_rd_bn_yuan / d15["enterprise_rd_bn_yuan"].value
    f_y = ic.industrial_revenue_tn_yuan / d15["industrial_revenue_tn_yuan"].value
    f_p = ic.pct_applications / d15["pct_applications"].value
    if f_rd == f_y == f_p == 1.0:
        return tail
    return replace(tail, rd_reported=tail.rd_reported * f_rd, revenue=tail.revenue * f_y, pct=tail.pct * f_p)


def build_world(rng: np.random.Generator, p: Parameters, ic: InitialConditions, levers, scale: float):
    """Return (firms, orgs, funds, calibration, uc0) for 2015 at ``scale``."""

    # ---------------------------------------------------------------- revenue and weights
    tail = scale_upper_tail(build_upper_tail(rng, load_upper_tail(), ic.largest_firm_revenue_tn_yuan * 1e6), ic)
    ic_rest = carve_upper_tail(ic, tail)
    parts = {s: _segment_revenue(rng, s, ic_rest, scale) for s in ("industrial", "service", "startup")}
    alpha = parts["industrial"][2]
    seg = np.concatenate([np.full(len(parts[s][0]), i, np.int8) for i, s in enumerate(parts)] + [tail.segment])
    rev = np.concatenate([parts[s][0] for s in parts] + [tail.revenue])
    w = np.concatenate([parts[s][1] for s in parts] + [np.ones(tail.n)])
    n = len(rev)
    tail_start = n - tail.n
    is_tail = np.arange(n) >= tail_start
    ind = seg == F.INDUSTRIAL
    age = np.where(seg == F.STARTUP, rng.uniform(0, 5, n), rng.uniform(3, 30, n))
    # one factory for every firm row (new_firms); R&D is set below by calibration
    f = new_firms(rng, p, ic, segment=seg, revenue=rev, weight=w, rd_intensity=np.zeros(n), age=age,
                  aware_share=0.0, cost_fte=ic.rd_cost_per_fte_k_yuan / 1e3)
    f.sector[is_tail], f.ownership[is_tail] = tail.sector, tail.ownership
    sd = margin_sd(ic)

    # ---------------------------------------------------------------- who performs R&D
    perform = np.ones(n, bool)
    x = np.log(rev / ic.min_industrial_revenue_m_yuan)
    b = ic.rd_performer_size_slope
    # the tail firms all perform R&D; the rest of the industrial segment supplies the other performers
    rest = ind & ~is_tail
    share_rest = (ic.industrial_rd_performer_share * w[ind].sum() - w[ind & is_tail].sum()) / w[rest].sum()
    a = brentq(lambda a: (w[rest] * expit(a + b * x[rest])).sum() / w[rest].sum() - share_rest, -20, 20)
    perform[rest] = rng.random(rest.sum()) < expit(a + b * x[rest])
    f.claims = perform & (rng.random(n) < p.deduction_takeup)
    cost_fte = ic.rd_cost_per_fte_k_yuan / 1e3

    # ---------------------------------------------------------------- R&D intensity
    z = rng.standard_normal(n)
    shape = np.exp(-ic.rd_intensity_size_slope * x + ic.rd_intensity_sigma * z)
    shape = np.minimum(shape, 50 * np.median(shape))
    seg_rd = segment_rd_totals(ic, tail)  # outside the upper tail
    chi = p.relabel_survey_passthrough  # share of relabelled cost that reaches the NBS R&D survey
    ctx0 = firm_tax_context(f, levers, 2015, p)
    tax_saving_ref = ctx0.tax_rate_std * ctx0.deduction_all
    psi = F.relabel_ratio(ctx0.tax_saving, tax_saving_ref, p.relabel_background, p.relabel_incentive_elasticity,
                          ctx0.audit, ctx0.audit)
    s = np.zeros(n)
    rd_cap = float(tail.rd_reported.min())
    for sg, total in seg_rd.items():
        m = (seg == sg) & perform & ~is_tail
        s[m] = fill_rd(w[m], shape[m], rev[m], chi * psi[m], total, rd_cap if sg != F.STARTUP else np.inf)
    s[is_tail] = tail.rd_reported / ((1 + chi * psi[is_tail]) * rev[is_tail])
    f.rd_real = s * rev
    f.rd_staff = f.rd_real / cost_fte
    f.knowledge = f.rd_real / (p.knowledge_depreciation + p.nominal_growth)

    # ---------------------------------------------------------------- patents and IP
    kk = f.knowledge ** p.patent_knowledge_elasticity
    # the 518,000 are a mid-2015 count; the model starts at the end of 2015: half a year of
    # grants net of lapses more (issue 11 #7)
    valid_end_2015 = ic.enterprise_invention_patents_valid + 0.5 * (
        ic.enterprise_invention_grants - p.patent_lapse_rate * ic.enterprise_invention_patents_valid)
    stock_rate = valid_end_2015 / (w * kk).sum()
    f.patents = rng.poisson(stock_rate * kk).astype(float)
    f.core_ip = (f.patents > 0) | (perform & (rng.random(n) < p.core_ip_share))

    # ---------------------------------------------------------------- certification and bunching
    f.relabel = psi * f.rd_real
    thr = ctx0.threshold
    target_ind = ic.hightech_enterprises * ic.hightech_industrial_share
    target_non = ic.hightech_enterprises - target_ind
    rep = f.rd_real + f.relabel
    staff_ok = p.st_staff_ratio * f.rd_staff / f.employees >= ctx0.staff_share
    ip_ok = f.core_ip | (ctx0.ip_required < 0.5)
    meets = perform & (rep >= thr * rev) & staff_ok & ip_ok
    gap = np.maximum((thr + f.notch_margin) * rev - rep, 0.0)
    phi = p.notch_relabel_fraction
    real_at = f.rd_real + (1 - phi) * gap
    # the 2015 intensity is the firm's steady state, so the top-up is the extra R&D charged to profit
    saved = F.notch_gain(f.margin * rev - (1 - phi) * gap, (thr + f.notch_margin) * rev, ctx0.deduction,
                         ctx0.tax_rate_std, ctx0.tax_rate_ht)
    caught = real_at < thr * rev
    cost = F.notch_cost(gap, phi, ctx0.tax_rate_ht, ctx0.deduction, ctx0.audit, p.relabel_penalty, saved, caught)
    staff_at_thr = p.st_staff_ratio * real_at / cost_fte / f.employees >= ctx0.staff_share
    # the tail firms report their published R&D (no 2015 bunching); nobody bunches into the tail
    would_bunch = perform & ~meets & (saved > cost) & staff_at_thr & ip_ok & ~is_tail \
        & ((thr + f.notch_margin) * rev <= rd_cap)
    cand = meets | would_bunch
    u = rng.random(n)
    aware, chosen, shortfall, rev_gap = select_certified(u, cand, ind, w, rev, target_ind, target_non,
                                                  ic.hightech_revenue_tn_yuan * 1e6)
    f.hightech |= chosen
    f.ht_aware = aware
    # the first certification years are spread over the three-year validity
    f.ht_expiry = np.where(f.hightech, rng.integers(1, 13, n), 0).astype(np.int32)

    # Settle the notch with the model's own rules: certified firms below their threshold
    # bunch (real top-up (1 - phi) * gap, the rest relabelled); the latent real R&D level is
    # rescaled until the segments' survey-reported totals (real + chi * relabelled) hold.
    # Relabelling is where the evidence puts it: at the notch (phi, Chen et al.), plus a
    # small declared background ratio (relabel_background) for claimers.
    # Rows held at a reported level: the tail firms (published R&D) and rows at the tail cap.
    r0 = f.rd_real.copy()
    capped = ~is_tail & (f.rd_real * (1 + chi * psi) >= rd_cap * (1 - 1e-9))
    held = is_tail | capped
    rep_held = np.where(is_tail, np.concatenate([np.zeros(tail_start), tail.rd_reported]), rd_cap)

    ctx = firm_tax_context(f, levers, 2015, p)
    psi_i = F.relabel_ratio(ctx.tax_saving, tax_saving_ref, p.relabel_background, p.relabel_incentive_elasticity,
                            ctx.audit, ctx.audit)
    target = (ctx.threshold + f.notch_margin) * rev

    def held_r0(r0):
        return np.where(held, rep_held / (1 + chi * psi_i), r0)

    def settle(r0):
        r0 = held_r0(r0)
        gap = np.maximum(target - r0 * (1 + psi_i), 0.0)
        b = f.hightech & perform & (gap > 0) & ~held & (target <= rd_cap)  # bunching stays below the tail
        topup = np.where(b, F.notch_topup(gap, phi), 0.0)
        real = r0 + topup
        relab = np.where(b, np.maximum(psi_i * real, target - real), psi_i * real)
        return real, relab, b, topup

    for _ in range(SETTLE_ITERATIONS):
        before = _state_bytes(r0, held)
        for sg, total in seg_rd.items():
            real, relab, b, _ = settle(r0)
            m = (seg == sg) & ~is_tail
            fixed = (w * (real + chi * relab))[m & (b | held)].sum()
            free = (w * (real + chi * relab))[m & ~b & ~held].sum()
            r0[m & ~b & ~held] *= free_rescale(total, fixed, free)
            held |= m & (r0 * (1 + chi * psi_i) > rd_cap)  # rescaled above the cap: held at it
        if _state_bytes(r0, held) == before:
            break  # a fixed point (usually after 2-3 sweeps): every further sweep would change nothing
    f.rd_real, f.relabel, f.buncher, f.rd_topup = settle(r0)
    psi0 = p.relabel_background
    r0 = held_r0(r0)
    set_rd_state(f, p, r0 / rev, cost_fte, rd_real=f.rd_real)

    # ---------------------------------------------------------------- technology market, PCT
    revenue_ref = float(np.median(rev[perform]))
    kk = f.knowledge ** p.patent_knowledge_elasticity
    patent_rate = ic.enterprise_invention_grants / (w * kk).sum()
    pct_base = f.knowledge * (rev / revenue_ref) ** p.pct_size_elasticity
    # firms whose PCT filings are published (Huawei, ZTE) file them; the rule's rate covers the rest
    known = is_tail & np.isfinite(np.concatenate([np.full(tail_start, np.nan), tail.pct]))
    # the rule covers enterprises' filings only: WIPO's count includes universities,
    # institutes and individuals (pct_enterprise_share; their filings: sim/phases/innovation.patent)
    firm_pct = ic.pct_enterprise_share * ic.pct_applications - tail.pct[np.isfinite(tail.pct)].sum()
    if firm_pct <= 0:
        raise DataError("initial: pct_enterprise_share x pct_applications leaves no PCT filings for the firms "
                        "outside the published filers (sim/data/upper_tail_2015.toml)")
    pct_rate = firm_pct / (w * pct_base)[~known].sum()
    f.pct_propensity[known] = (tail.pct[np.isfinite(tail.pct)]) / (pct_rate * pct_base[known])
    firm_part = ic.tech_contract_turnover_bn_yuan * 1e3 * (1 - ic.academic_seller_share)
    chi = firm_part / (w * F.tech_sales(f.knowledge, 1.0, p.tech_purchase_elasticity)).sum()

    # ---------------------------------------------------------------- research organisations
    orgs = build_orgs(rng, ic, scale, p.knowledge_depreciation)

    # ---------------------------------------------------------------- venture funds
    n_fund = max(MIN_ROWS["fund"], int(round(scale * ic.vc_funds)))
    wf = np.full(n_fund, ic.vc_funds / n_fund)
    guided = np.zeros(n_fund, bool)
    n_guided = max(1, int(round(n_fund * ic.guided_vc_bn_yuan / ic.vc_capital_bn_yuan)))
    guided[:n_guided] = True
    cap_total = ic.vc_capital_bn_yuan * 1e3
    cap = np.where(guided, ic.guided_vc_bn_yuan * 1e3 / wf[guided].sum(),
                   (cap_total - ic.guided_vc_bn_yuan * 1e3) / wf[~guided].sum())
    funds = VCFundState(weight=wf, guided=guided, capital=cap * 0.6, invested=cap * 0.4,
                        returned=np.zeros(n_fund), written_off=np.zeros(n_fund), deals=np.zeros(n_fund))
    st = seg == F.STARTUP
    backed = st & (rng.random(n) < 0.2)
    f.vc_backed = backed
    f.vc_fund = np.where(backed, rng.integers(0, n_fund, n), -1).astype(np.int32)
    f.vc_invested = np.where(backed, p.vc_round_m_yuan, 0.0)
    # a fund's capital at work includes its portfolio's cost basis (the stakes it writes
    # off or exits are its own): raise a row's invested capital to cover the rounds of the
    # start-ups it leads, taken from its uninvested capital so the fund's size is the data's
    funds.invested, funds.capital = portfolio_covered(funds, f)

    cal = Calibration(
        psi0=psi0, tax_saving_ref=tax_saving_ref, patent_rate=patent_rate, pct_rate=pct_rate, chi=chi,
        revenue_ref=revenue_ref, cost_fte=cost_fte, private_vc_inflow=p.vc_investment_rate * cap_total * 0.6,
        hightech_shortfall=shortfall, hightech_revenue_shortfall=rev_gap, aware_share=float((w * aware).sum() / w.sum()), startup_weight=float(parts["startup"][1].mean()),
        industrial_weight=float(parts["industrial"][1][-1]) if len(parts["industrial"][1]) else 1.0, pareto_alpha=alpha,
        tail_start=tail_start, tail_names=tuple(tail.names), tail_rd_cap=rd_cap,
        margin_sd=float(sd),
    )
    # each firm's 2015 user cost, from the post-certification context used to settle the notch
    uc0 = F.user_cost(ctx.tax_rate, ctx.deduction, ctx.deduction_value)
    return f, orgs, funds, cal, uc0


def portfolio_covered(funds, f) -> tuple[np.ndarray, np.ndarray]:
    """Funds' (invested, capital) with each fund's invested capital at least the cost basis
    of the backed firms it leads: ``I_j' = max(I_j, B_j)``, ``C_j' = max(C_j - (I_j' - I_j), 0)``
    with ``B_j = sum_i vc_invested_i w_i / w_j`` over firms i led by fund j (per real fund).
    Without it a fund could be assigned more start-up stakes than it holds, and writing them
    off would clip its invested capital at zero (the invested-capital invariant breaks)."""
    basis = np.zeros(funds.n)
    i = np.flatnonzero(f.vc_backed)
    np.add.at(basis, f.vc_fund[i], f.vc_invested[i] * f.weight[i] / funds.weight[f.vc_fund[i]])
    invested = np.maximum(funds.invested, basis)
    return invested, np.maximum(funds.capital - (invested - funds.invested), 0.0)


def build_orgs(rng, ic: InitialConditions, scale: float, depreciation: float) -> ResearchOrgState:
    """Universities and institutes with the 2015 R&D and researcher totals."""
    n_u = max(MIN_ROWS["org"], int(round(scale * ic.universities)))
    n_i = max(MIN_ROWS["org"], int(round(scale * ic.institutes)))
    kind = np.concatenate([np.full(n_u, UNIVERSITY, np.int8), np.full(n_i, INSTITUTE, np.int8)])
    w = np.concatenate([np.full(n_u, ic.universities / n_u), np.full(n_i, ic.institutes / n_i)])
    size = np.exp(1.0 * rng.standard_normal(n_u + n_i))
    acad_fte = ic.rd_personnel_fte_m * 1e6 * (1 - ic.enterprise_rd_personnel_share)
    res_tot = {UNIVERSITY: acad_fte * ic.university_researcher_share_of_academia,
               INSTITUTE: acad_fte * (1 - ic.university_researcher_share_of_academia)}
    rd_tot = {UNIVERSITY: ic.university_rd_bn_yuan * 1e3, INSTITUTE: ic.institute_rd_bn_yuan * 1e3}
    researchers = np.zeros(n_u + n_i)
    rd = np.zeros(n_u + n_i)
    for k in (UNIVERSITY, INSTITUTE):
        m = kind == k
        researchers[m] = size[m] * res_tot[k] / (w[m] * size[m]).sum()
        rd[m] = size[m] * rd_tot[k] / (w[m] * size[m]).sum()
    stock = rd / depreciation
    acad_sales = ic.tech_contract_turnover_bn_yuan * 1e3 * ic.academic_seller_share
    sales = stock * acad_sales / (w * stock).sum()
    return ResearchOrgState(weight=w, kind=kind, researchers=researchers, rd=rd, tech_stock=stock,
                            tech_stock0=stock.copy(), sales=sales, spinoffs=np.zeros(n_u + n_i))
