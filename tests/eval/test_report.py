"""The HTML report's plots: the reliability diagram's legend never hides a bar."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg

from qa.eval.metrics import calibration
from qa.eval.report import calibration_figure
from qa.eval.runner import Evaluation


def test_the_reliability_legend_covers_no_bar() -> None:
    """Bins full to the top at both ends (a reader that is right when unsure and when sure) leave
    no corner of the axes free: the legend must sit outside them."""
    confidences = [0.05, 0.08, 0.15, 0.45, 0.55, 0.92, 0.95, 0.97]
    ece, bins = calibration(confidences, [True, True, True, False, True, True, True, True])
    fig = calibration_figure(Evaluation({"ece": ece}, [], calibration_bins=bins))
    FigureCanvasAgg(fig).draw()
    (ax,) = fig.axes
    legend = ax.get_legend().get_window_extent()
    bars = [p.get_window_extent() for p in ax.patches]
    assert len(bars) == sum(1 for b in bins if b["count"])
    assert not any(legend.overlaps(bar) for bar in bars)
    assert not legend.overlaps(ax.get_window_extent())
