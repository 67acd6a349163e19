"""Whether the toy experiment's findings (ALI paper §4.5) hold, judged from measured numbers.

Each finding compares seed means in a compare's results (``CompareResults.mean``); nothing here
holds a result. A finding whose models or metrics were not in the compare is "not measured".
Verdicts: "holds", "does not hold", "mixed" (holds on one criterion or model, not the other),
"not measured".
"""

from __future__ import annotations

from genzoo.reports.results import CompareResults, Finding

HOLDS, FAILS, MIXED, NOT_MEASURED = "holds", "does not hold", "mixed", "not measured"
COVERS_FRACTION = 0.9  # "covers the modes": at least 90 % of the modes, on seed average
SMEAR_HQ = 0.9  # without ALI to compare with: HQ below 90 % (the data itself scores 98.9 %)
ENCODER_BASELINES = ("gan-inverse", "gan-posthoc")


def _verdict(checks: list[bool]) -> str:
    return HOLDS if all(checks) else MIXED if any(checks) else FAILS


def ali_covers_more_modes(results: CompareResults) -> Finding:
    claim = "ALI covers more modes than GAN"
    # the two-phase baselines' generators are plain GANs (phase 1), so Figure 8's own compare
    # (ali gan-inverse gan-posthoc vae) can judge this finding too
    gan = next((m for m in ("gan", *ENCODER_BASELINES) if results.mean(m, "modes") is not None
                or results.mean(m, "modes_paper") is not None), "gan")
    pairs = {m: (results.mean("ali", m), results.mean(gan, m))
             for m in ("modes", "modes_paper")}
    pairs = {m: p for m, p in pairs.items() if None not in p}
    if not pairs:
        return Finding(claim, NOT_MEASURED, "needs ali and a GAN (gan, or gan-inverse / "
                                            "gan-posthoc, whose generators are GANs) in the "
                                            "compare")
    who = "GAN" if gan == "gan" else f"GAN (the generator of {gan})"
    evidence = "; ".join(f"{m}: ALI {a:.1f} vs {who} {g:.1f}" for m, (a, g) in pairs.items())
    return Finding(claim, _verdict([a > g for a, g in pairs.values()]), evidence)


def vae_smears(results: CompareResults, num_modes: int) -> Finding:
    claim = "the VAE covers the modes but smears mass between them"
    modes, hq = results.mean("vae", "modes"), results.mean("vae", "high_quality")
    if modes is None or hq is None or num_modes <= 0:
        return Finding(claim, NOT_MEASURED, "needs vae in the compare, on a Gaussian mixture")
    covers = modes >= COVERS_FRACTION * num_modes
    ali_hq = results.mean("ali", "high_quality")
    if ali_hq is not None:
        smears, ref = hq < ali_hq, f"ALI's {100 * ali_hq:.1f} %"
    else:
        smears, ref = hq < SMEAR_HQ, f"{100 * SMEAR_HQ:.0f} % (ALI not measured)"
    evidence = (f"VAE covers {modes:.1f} of {num_modes} modes (needs >= "
                f"{COVERS_FRACTION * num_modes:.1f}); its high-quality fraction "
                f"{100 * hq:.1f} % is {'below' if smears else 'not below'} {ref}")
    return Finding(claim, _verdict([covers, smears]), evidence)


def baselines_reconstruct_worse(results: CompareResults) -> Finding:
    claim = "inverse-mapping and post-hoc encoders reconstruct worse than ALI's"
    ali = results.mean("ali", "reconstruction_error")
    others = {m: results.mean(m, "reconstruction_error") for m in ENCODER_BASELINES}
    others = {m: v for m, v in others.items() if v is not None}
    if ali is None or not others:
        return Finding(claim, NOT_MEASURED, "needs ali and gan-inverse and/or gan-posthoc "
                                            "in the compare")
    parts = [f"reconstruction error ALI {ali:.3g}", *(f"{m} {v:.3g}" for m, v in others.items())]
    missing = [m for m in ENCODER_BASELINES if m not in others]
    if missing:
        parts.append(f"{', '.join(missing)} not measured")
    return Finding(claim, _verdict([v > ali for v in others.values()]), "; ".join(parts))


def paper_findings(results: CompareResults, num_modes: int) -> list[Finding]:
    """The three findings of §4.5 that the toy compare can test, in the paper's order; after
    a compare with a guided sampler, the three again on the guided samples."""
    found = [ali_covers_more_modes(results), vae_smears(results, num_modes),
             baselines_reconstruct_worse(results)]
    if results.sampler != "raw":
        view = results.guided_view()
        found += [Finding(f"{f.claim} (with {results.sampler} samples)", f.verdict, f.evidence)
                  for f in (ali_covers_more_modes(view), vae_smears(view, num_modes))]
    return found
