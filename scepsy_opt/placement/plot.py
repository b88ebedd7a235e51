"""A picture of a placement: the cluster map (nodes as rows, GPUs as cells, each cell filled by
its occupants' compute shares, coloured by llm; fragmented GPUs hatched; NVLink domains
outlined)."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from scepsy_opt.core.topology import tp_domains
from scepsy_opt.placement.stage import PlacementResult
from scepsy_opt.placement.verify import gpu_uses

MAX_NODES = 128


def cluster_map(result: PlacementResult) -> Figure:
    """The cluster map as a matplotlib figure (the caller saves it)."""
    problem = result.problem
    nodes = problem.cluster.nodes[:MAX_NODES]
    uses = {(u.node, u.gpu): u for u in gpu_uses(problem, result.placement)}
    classes = {c.llm: c for c in problem.classes}
    palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
               "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#2ca02c", "#d62728", "#9467bd",
               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8"]
    colour = {c.llm: palette[i % len(palette)] for i, c in enumerate(problem.classes)}
    width = max(n.num_gpus for n in nodes)
    fig = Figure(figsize=(max(6.0, 1.0 + 0.9 * width + 3.0), 1.2 + 0.45 * len(nodes)),
                 dpi=110)
    ax = fig.add_subplot()
    for row, node in enumerate(nodes):
        y = len(nodes) - 1 - row
        for g in range(node.num_gpus):
            use = uses[(node.id, g)]
            ax.add_patch(Rectangle((g, y + 0.1), 0.9, 0.8, fill=False, lw=0.6,
                                   ec="#555555"))
            bottom = 0.0
            for llm, replica in use.occupants:
                share = classes[llm].compute_share
                ax.add_patch(Rectangle((g + 0.05, y + 0.1 + 0.8 * bottom), 0.8, 0.8 * share,
                                       fc=colour[llm], ec="white", lw=0.5))
                if share >= 0.2 and len(nodes) <= 32:
                    ax.text(g + 0.45, y + 0.1 + 0.8 * (bottom + share / 2), str(replica),
                            ha="center", va="center", fontsize=6, color="white")
                bottom += share
            if use.fragmented:
                ax.add_patch(Rectangle((g + 0.05, y + 0.1 + 0.8 * bottom), 0.8,
                                       0.8 * (1 - bottom), fill=False, hatch="////",
                                       ec="#d62728", lw=0))
        for domain in tp_domains(node):
            if len(domain) > 1:
                ax.add_patch(Rectangle((min(domain) - 0.03, y + 0.04), len(domain) - 0.04,
                                       0.92, fill=False, lw=1.0, ec="#333333", ls="--"))
        label = node.id + (" (excluded)" if node.id in problem.exclude_nodes else "")
        ax.text(-0.15, y + 0.5, label, ha="right", va="center", fontsize=7)
    ax.set_xlim(-0.2, width)
    ax.set_ylim(-0.1, len(nodes))
    ax.set_xticks([g + 0.45 for g in range(width)], [f"GPU {g}" for g in range(width)],
                  fontsize=7)
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    m = result.metrics
    shown = "" if len(problem.cluster.nodes) <= MAX_NODES else \
        f" (first {MAX_NODES} of {len(problem.cluster.nodes)} nodes)"
    ax.set_title(f"{problem.cluster.name}: {result.method} ({result.status}), "
                 f"{m.gpus_used} GPUs on {m.nodes_used} nodes, {m.fragmented_gpus} fragmented"
                 f"{shown}", fontsize=9)
    handles = [Patch(fc=colour[c.llm], label=f"{c.llm} (TP {c.tp}, {c.compute_share:.3g})")
               for c in problem.classes]
    handles.append(Patch(fill=False, hatch="////", ec="#d62728", label="fragmented free part"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7,
              frameon=False)
    fig.tight_layout()
    return fig
