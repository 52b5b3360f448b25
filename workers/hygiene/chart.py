"""The digest's chart: keys by age bucket, stacked by status, as PNG bytes.

matplotlib is imported when a chart is drawn (it takes a moment and some memory), with the Agg
backend and a Figure of its own, so no display and no global pyplot state are involved.
"""

from __future__ import annotations

import io

from workers.hygiene.summary import AGE_BUCKETS, STATUSES, UNKNOWN_AGE, HygieneSummary

COLORS = {"Active": "#2e7d32", "Inactive": "#9e9e9e"}


def render_chart(report: HygieneSummary) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [name for name, _ in AGE_BUCKETS]
    if report.by_age.get(UNKNOWN_AGE):
        labels.append(UNKNOWN_AGE)
    figure = Figure(figsize=(7, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bottoms = [0] * len(labels)
    for status in STATUSES:
        values = [report.count(label, status) for label in labels]
        bars = axes.bar(labels, values, bottom=bottoms, label=status, color=COLORS[status])
        axes.bar_label(bars, labels=[f"{v:,}" if v else "" for v in values], label_type="center", fontsize=8)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axes.set_title(f"Access keys by age ({report.keys:,} keys, {report.accounts:,} accounts)")
    axes.set_ylabel("keys")
    axes.legend(frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
