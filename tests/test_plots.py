"""The PNG pictures: the terminal's colours, a colour bar, no blank band, a log scale, whole epochs."""

from types import SimpleNamespace

import pytest

from fashionnet import plots
from fashionnet.introspect import first_layer_neurons
from fashionnet.render.widgets import SignedPicture
from fashionnet.weights import load_model

matplotlib = pytest.importorskip("matplotlib")  # the dev extra installs it; CI runs these


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions draw, kept instead of (as well as) written."""
    kept = []

    def keep(fig, path, claim=None):  # drawn, not written: the PNG writing is tested with the commands
        fig.canvas.draw()
        kept.append(fig)

    monkeypatch.setattr(plots, "_save", keep)
    monkeypatch.setattr(plots._pyplot(), "close", lambda fig: None)
    return kept


def test_neuron_colours_match_the_terminal_and_have_a_colour_bar(figures, tmp_path):
    import torch

    model, _ = load_model(None, 0, torch.device("cpu"))
    plots.plot_neurons(first_layer_neurons(model, 64), tmp_path / "n.png")
    (fig,) = figures
    title = fig._suptitle.get_text()
    assert "orange +" in title and "blue" in title and "red" not in title
    cmap = plots.signed_colormap()
    for value in (-1.0, 1.0):  # the ends of the scale are the terminal's full colours
        colour = SignedPicture._colour(value)
        r, g, b = (round(255 * c) for c in cmap((value + 1) / 2)[:3])
        assert (r, g, b) == (colour.triplet.red, colour.triplet.green, colour.triplet.blue)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 64 and any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    # No blank band: the first row of pictures sits right under the title (within one picture's height).
    renderer = fig.canvas.get_renderer()
    title_bottom = fig._suptitle.get_window_extent(renderer).y0
    first_row_top = max(ax.get_tightbbox(renderer).y1 for ax in images[:8])
    picture_height = images[0].get_window_extent(renderer).height
    assert 0 <= title_bottom - first_row_top < 0.5 * picture_height


def test_confusion_matrix_uses_a_log_scale(figures, tmp_path):
    from matplotlib.colors import LogNorm

    confusion = [[900 if i == j else (i * j) % 7 for j in range(10)] for i in range(10)]
    plots.plot_confusion(confusion, 0.9, tmp_path / "c.png")
    (fig,) = figures
    image = next(ax for ax in fig.axes if ax.images).images[0]
    assert isinstance(image.norm, LogNorm) and image.norm.vmin == 1 and image.norm.vmax == 900
    assert any("log" in ax.get_ylabel() for ax in fig.axes)


def test_learning_curves_have_whole_number_epochs(figures, tmp_path):
    history = [
        SimpleNamespace(epoch=e, train_loss=1 / e, train_accuracy=0.5, test_loss=1 / e, test_accuracy=0.6)
        for e in range(1, 4)
    ]
    plots.plot_history(history, tmp_path / "h.png")
    plots.plot_recipes({"tutorial": history, "shipped": history}, tmp_path / "r.png")
    for fig in figures:
        for ax in fig.axes:
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
    legends = {text.get_text() for ax in figures[1].axes for text in ax.get_legend().get_texts()}
    assert legends == {"tutorial", "shipped"}
    assert "what training minimises" in " ".join(t.get_text() for t in figures[0].axes[0].get_legend().get_texts())
