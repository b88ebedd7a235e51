"""The report's latency-throughput figure: predicted curves of every plan from the surrogate,
and (with an evaluation) the simulated points: the sustained rates of each plan's search for its
highest sustainable rate, the latency at the target rate, and the highest sustainable rate."""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

PALETTE = {"planned": "#d62728", "independent": "#1f77b4", "user_specified": "#2ca02c",
           "pooled_tp1": "#9467bd", "exact": "#ff7f0e"}
OTHER = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
STYLES = ["--", "-.", ":", (0, (5, 1, 1, 1))]  # baselines' line styles (the plan: solid)


def colours(names: list[str]) -> dict[str, str]:
    extra = iter(OTHER * 4)
    return {name: PALETTE.get(name) or next(extra) for name in names}


def _plot_simulated(ax, sim: dict, colour: str) -> float:
    """One plan's simulated points: squares at the sustained rates of its search for the
    highest sustainable rate (with the target's point), a filled marker at its throughput and
    latency at the target, a triangle on the rate axis at its highest sustainable rate. Returns
    the highest latency drawn (0 when none)."""
    top_latency = 0.0
    at_target = sim.get("at_target")
    # the sustained rates the search for the highest one simulated: a simulated curve
    probes = sorted((p["throughput_rps"], p["mean_latency_s"])
                    for p in sim.get("probes", []) if p["sustained"]
                    and p["mean_latency_s"] is not None)
    if at_target:
        probes = sorted([*probes, (at_target["completed_throughput_rps"],
                                   at_target["e2e_latency_s"]["mean"])])
    if len(probes) > 1:
        top_latency = max(top_latency, *(latency for _, latency in probes))
        ax.plot(*zip(*probes, strict=True), ls="", marker="s", ms=5, color=colour,
                mec="black", mew=0.5, zorder=3)
    if at_target:
        latency = at_target["e2e_latency_s"]["mean"]
        top_latency = max(top_latency, latency)
        ax.plot([at_target["completed_throughput_rps"]], [latency], "o", ms=8,
                color=colour, mec="black", mew=0.8, zorder=4)
    rate = sim.get("max_sustainable_rate_rps")
    if rate:  # on the rate axis
        ax.plot([rate], [0.0], "^", ms=10, color=colour, mec="black", mew=0.8,
                clip_on=False, zorder=5)
    return top_latency


def _marker_key(predicted: dict, simulated: dict) -> list[Line2D]:
    """The legend's entries that explain the line and the markers."""
    handles = []
    if predicted:
        handles.append(Line2D([], [], color="0.3", label="line: predicted (surrogate)"))
    if simulated:
        handles.append(Line2D([], [], marker="s", ms=5, ls="", color="0.6", mec="black",
                              mew=0.5, label="simulated at rates it sustains"))
        handles.append(Line2D([], [], marker="o", ls="", color="0.6", mec="black",
                              label="simulated at the target"))
        handles.append(Line2D([], [], marker="^", ls="", color="0.6", mec="black",
                              label="simulated max sustainable rate"))
    return handles


def _title(curves: dict | None, evaluation: dict | None) -> str:
    title = "latency against throughput"
    source = curves or evaluation
    if source:
        title += f": {source.get('workflow') or ''} on {source.get('cluster', '')}".replace(
            ":  on", ": on")
    return title


def latency_throughput_figure(curves: dict | None, evaluation: dict | None) -> Figure:
    """Mean end-to-end latency against the request rate: one line per plan (predicted); per
    plan simulated points (squares) at the rates its highest sustainable rate's search
    sustained, a filled marker at its simulated throughput and latency at the target, and a
    triangle on the rate axis at its simulated highest sustainable rate."""
    predicted = (curves or {}).get("plans", {})
    simulated = (evaluation or {}).get("plans", {})
    names = list(dict.fromkeys([*predicted, *simulated]))
    colour = colours(names)
    target = (curves or evaluation or {}).get("target_rate_rps")
    fig = Figure(figsize=(10.0, 5.2), dpi=110)
    ax = fig.add_subplot()
    top_latency = 0.0
    handles = []
    for k, name in enumerate(names):
        entry = predicted.get(name, {})
        sim = simulated.get(name, {})
        gpus = entry.get("gpus", sim.get("gpus"))
        style = "-" if name == "planned" else STYLES[k % len(STYLES)]
        label = name if gpus is None else f"{name} ({gpus:g} GPUs)"
        if "error" in entry and "error" in sim or (not entry.get("points")
                                                    and not sim.get("at_target")):
            continue
        handles.append(Line2D([], [], color=colour[name], ls=style, lw=2.2, label=label))
        points = entry.get("points") or []
        if points:
            latency = [p["latency_s"] for p in points]
            top_latency = max(top_latency, *latency)
            ax.plot([p["rate_rps"] for p in points], latency, color=colour[name], ls=style,
                    lw=2.4 if name == "planned" else 1.6)
        top_latency = max(top_latency, _plot_simulated(ax, sim, colour[name]))
    handles += _marker_key(predicted, simulated)
    if target:
        ax.axvline(target, color="0.4", ls="--", lw=1)
        ax.annotate(f"target {target:g} rps", (target, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(4, -14), textcoords="offset points", fontsize=9, color="0.3")
    if top_latency > 0:
        ax.set_ylim(0, top_latency * 1.05)
    ax.set_xlim(left=0)
    ax.set_xlabel("request rate (requests/s)")
    ax.set_ylabel("mean end-to-end latency (s)")
    ax.set_title(_title(curves, evaluation))
    ax.grid(True, alpha=0.3)
    if handles:
        ax.legend(handles=handles, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0)
    fig.tight_layout()
    return fig


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
