"""The study's figures from fabricated runs shaped like the real-speech study (no training): one per question, sized
for a paper's column, PNG and PDF, one legend entry per model and line style, one colour per model everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.image import imread
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ser_lightning.experiments.collect import Cell, aggregate
from ser_lightning.experiments.figures import COLUMN, FULL, Names, best_model, confusion_matrix, curves, make_figures
from ser_lightning.experiments.figures.matrix import crosslingual_matrix
from ser_lightning.experiments.figures.style import DPI

from .studies import LABELS, demo_fewshot_like, demo_pretrained_like, labelled_copy, real_crosslingual_like, real_urdu_like, rows_of

MODELS = list(LABELS["model"].values())  # the grid order of real_urdu: CNN-LSTM, Whisper base, ..., Whisper tiny.en


def draw(sweep, folder):
    names = Names.from_sweep(sweep)
    rows = rows_of(sweep)
    drawn = {d.name: d for d in make_figures(rows, "ua", ["seed_everything"], folder / "plots", names)}
    return SimpleNamespace(sweep=sweep, names=names, rows=rows, drawn=drawn)


@pytest.fixture(scope="module")
def urdu(tmp_path_factory):
    folder = tmp_path_factory.mktemp("urdu")
    return draw(real_urdu_like(folder / "real_urdu", sweep_file=labelled_copy("real_urdu", folder)), folder)


@pytest.fixture(scope="module")
def cross(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cross")
    return draw(real_crosslingual_like(folder / "real_crosslingual", sweep_file=labelled_copy("real_crosslingual", folder)), folder)


def legend_entries(figure) -> dict[str, str]:
    """Legend label -> colour of its handle."""
    entries = {}
    for legend in figure.legends:
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            colour = handle.get_color() if isinstance(handle, Line2D) else handle.get_edgecolor()
            entries[text.get_text()] = to_hex(colour)
    return entries


def test_each_question_has_a_figure_as_png_and_pdf_drawn_for_a_papers_column(urdu):
    assert list(urdu.drawn) == ["heatmap", "fewshot", "noise", "pretrained", "recall"]
    for drawn in urdu.drawn.values():
        image = imread(drawn.png)
        assert image.shape[1] == round(COLUMN * DPI) and np.ptp(image) > 0.5  # 3.3 in at 300 dpi, drawn on
        pdf = drawn.pdf.read_bytes()
        assert pdf.startswith(b"%PDF") and b"/Type3" not in pdf and b"/FontFile2" in pdf  # embedded TrueType (Type 42): editable text
        assert drawn.caption and drawn.figure is not None
    sizes = {text.get_fontsize() for text in urdu.drawn["fewshot"].figure.findobj(lambda a: hasattr(a, "get_fontsize") and a.get_text())}
    assert min(sizes) >= 7 and max(sizes) <= 8.5  # 8 pt text at column width


def test_the_fewshot_curve_joins_each_models_k_target_solid_and_source_dashed_with_one_legend_entry_each(urdu):
    figure = urdu.drawn["fewshot"].figure
    (axes,) = figure.axes
    lines = [line for line in axes.lines if line.get_linestyle() in ("-", "--")]
    assert len(lines) == 8 and all(len(line.get_xdata()) == 3 for line in lines)  # 4 models x (target, source), k = 0, 5, 20
    styles = {}
    for line in lines:
        styles.setdefault(to_hex(line.get_color()), []).append(line.get_linestyle())
    assert sorted(styles) == sorted(urdu.names.colour(m) for m in MODELS) and all(sorted(s) == ["-", "--"] for s in styles.values())
    assert np.allclose(np.round(lines[0].get_xdata()), [0, 5, 20], atol=0.5)
    assert list(legend_entries(figure)) == [*MODELS, "target (unseen)", "source (held-out speakers)", "chance (0.25)"]
    assert "± std over seeds" in figure.get_suptitle() and "± std over seeds" in urdu.drawn["fewshot"].caption


def test_a_model_has_one_colour_in_every_figure_and_one_legend_entry(urdu):
    for name in ("fewshot", "noise", "pretrained", "recall"):
        entries = legend_entries(urdu.drawn[name].figure)
        models = [label.removesuffix(" (best)") for label in entries if label.removesuffix(" (best)") in MODELS]
        assert len(models) == len(set(models)) and models, name
        for label, colour in entries.items():
            model = label.removesuffix(" (best)")
            if model in MODELS:
                assert colour == urdu.names.colour(model), (name, model)
    titles = {axes.get_title(): to_hex(axes.title.get_color()) for axes in urdu.drawn["heatmap"].figure.axes if axes.get_title()}
    assert {title.replace("\n", " "): colour for title, colour in titles.items()} == {m: urdu.names.colour(m) for m in MODELS}


def test_the_cross_language_matrix_has_one_panel_per_model_on_one_colour_scale_with_mean_and_interval_in_each_cell(cross):
    figure = cross.drawn["heatmap"].figure
    panels = [axes for axes in figure.axes if axes.images]
    assert [axes.get_title().replace("\n", " ") for axes in panels] == ["Whisper base", "Whisper base, untrained", "Whisper tiny.en", "CNN-LSTM"]
    assert {(axes.images[0].norm.vmin, axes.images[0].norm.vmax) for axes in panels} == {(0.2, 0.8)}  # one scale
    assert all(axes.images[0].get_array().shape == (4, 4) for axes in panels)  # held-out corpus x test language
    first = panels[0]
    assert [t.get_text() for t in first.get_yticklabels()] == ["urdu", "emodb", "emovo", "ravdess"]
    assert [t.get_text() for t in first.get_xticklabels()] == ["de", "en", "it", "ur"]
    texts = [text.get_text() for text in first.texts]
    assert len(texts) == 32 and all(re.fullmatch(r"0\.\d\d", t) for t in texts[::2]) and all(re.fullmatch(r"\.\d\d–\.\d\d", t) for t in texts[1::2])
    cells = aggregate([r for r in cross.rows if r["metric"] == "ua" and r["model"] == "whisper_base" and r["target"] == "urdu"], ["group"])
    assert texts[0] == f"{cells[('de',)].mean:.2f}"
    # each held-out corpus's own language is outlined: urdu -> ur, emodb -> de, emovo -> it, ravdess -> en
    outlined = sorted({(round(p.get_y() + 0.46), round(p.get_x() + 0.46)) for p in first.patches if isinstance(p, Rectangle) and not p.get_fill()})
    assert outlined == [(0, 3), (1, 0), (2, 2), (3, 1)]
    assert list(cross.drawn) == ["heatmap", "pretrained", "recall"]  # no k and no noise varied: no curves


def test_at_full_width_the_matrix_panels_stand_four_abreast_with_text_still_8_pt(cross, tmp_path):
    drawn = crosslingual_matrix(cross.rows, "ua", cross.names, ["seed_everything"], tmp_path, width=FULL)
    panels = [axes for axes in drawn.figure.axes if axes.images]
    assert len(panels) == 4 and len({round(axes.get_position().y0, 3) for axes in panels}) == 1  # one row
    assert imread(drawn.png).shape[1] == round(FULL * DPI) and drawn.figure.get_suptitle() and panels[0].title.get_fontsize() == 8


def test_the_noise_curve_puts_clean_audio_at_the_right(urdu):
    (axes,) = urdu.drawn["noise"].figure.axes
    ticks = {label.get_text(): x for label, x in zip(axes.get_xticklabels(), axes.get_xticks())}
    assert list(ticks) == ["0", "10", "20", "clean"] and ticks["clean"] == max(ticks.values())
    assert "at k = 0" in urdu.drawn["noise"].caption


def test_the_pretraining_ablation_pairs_a_backbone_with_its_untrained_twin(urdu):
    figure = urdu.drawn["pretrained"].figure
    entries = legend_entries(figure)
    assert [label for label in entries if label in MODELS] == ["Whisper base", "Whisper base, untrained"]  # tiny.en and the CNN-LSTM have no twin
    bars = [p for p in figure.axes[0].patches if isinstance(p, Rectangle)]
    assert len(bars) == 4 and [bool(bar.get_hatch()) for bar in bars] == [False, False, True, True]  # model by model, source then target
    assert figure.axes[0].get_ylim()[0] == 0  # bars start at zero


def test_per_class_recall_marks_the_best_model_by_target_ua(urdu):
    assert best_model(urdu.rows, "ua", urdu.names) == "Whisper base"
    entries = legend_entries(urdu.drawn["recall"].figure)
    assert "Whisper base (best)" in entries and len([e for e in entries if e != "chance (0.25)"]) == 4
    assert [t.get_text() for t in urdu.drawn["recall"].figure.axes[0].get_xticklabels()] == ["angry", "happy", "neutral", "sad"]


@dataclass
class IntervalCell(Cell):
    """A cell as the study's cluster bootstrap gives it: with a 95% interval."""

    low: float | None = None
    high: float | None = None


def test_the_studys_95_percent_intervals_are_drawn_and_labelled_where_cells_have_them(urdu, tmp_path, monkeypatch):
    def with_intervals(rows, by):
        return {key: IntervalCell(cell.mean, cell.std, cell.n, cell.mean - 0.1, cell.mean + 0.05) for key, cell in aggregate(rows, by).items()}

    monkeypatch.setattr(curves, "aggregate", with_intervals)
    drawn = curves.fewshot_curve(urdu.rows, "ua", urdu.names, ["seed_everything"], tmp_path)
    assert "95% interval" in drawn.figure.get_suptitle() and "bars: 95% interval." in drawn.caption and "std" not in drawn.caption
    segments = [segment for collection in drawn.figure.axes[0].collections for segment in collection.get_segments()]
    assert len(segments) == 4 * 2 * 3 and all(np.isclose(s[1][1] - s[0][1], 0.15) for s in segments)


def test_figures_are_drawn_only_for_what_a_sweep_varies_and_name_a_model_without_a_model_axis(tmp_path):
    fewshot = draw(demo_fewshot_like(tmp_path / "demo_fewshot"), tmp_path / "a")
    assert list(fewshot.drawn) == ["heatmap", "fewshot", "recall"]  # one model, k varied, no noise, no untrained twin
    assert list(legend_entries(fewshot.drawn["fewshot"].figure))[0] == "cnnlstm"  # the run's backbone
    pretrained = draw(demo_pretrained_like(tmp_path / "demo_pretrained"), tmp_path / "b")
    assert list(pretrained.drawn) == ["heatmap", "pretrained", "recall"]
    assert make_figures([], "ua", [], tmp_path / "none") == []


def test_a_confusion_matrix_is_drawn_row_normalised_and_a_wrong_shape_is_refused(tmp_path):
    drawn = confusion_matrix([[8, 2, 0], [1, 3, 0], [0, 0, 0]], ["angry", "happy", "sad"], tmp_path, title="Whisper base, k = 0")
    (axes, _) = drawn.figure.axes
    shares = np.ma.filled(axes.images[0].get_array().astype(float), np.nan)  # rows without examples are masked
    assert np.allclose(shares[0], [0.8, 0.2, 0.0]) and np.allclose(shares[1], [0.25, 0.75, 0.0]) and np.isnan(shares[2]).all()
    assert [t.get_text() for t in axes.texts][:2] == ["0.80\n(8)", "0.20\n(2)"]
    assert drawn.png.is_file() and drawn.pdf.is_file() and "diagonal is recall" in drawn.caption
    again = confusion_matrix([[8, 2, 0], [1, 3, 0], [0, 0, 0]], ["angry", "happy", "sad"], tmp_path / "again", title="Whisper base, k = 0")
    assert again.png.read_bytes() == drawn.png.read_bytes() and again.pdf.read_bytes() == drawn.pdf.read_bytes()  # no dates: same figure, same files
    with pytest.raises(ValueError, match=r"A confusion matrix of 2 classes is 2 x 2, got shape \(3, 3\)"):
        confusion_matrix(np.eye(3), ["a", "b"], tmp_path)


def test_patches_in_legends_keep_the_models_colour():
    from ser_lightning.experiments.figures.bars import _patch

    solid, hatched = _patch("#0072B2", False, "a"), _patch("#0072B2", True, "b")
    assert isinstance(solid, Patch) and to_hex(solid.get_facecolor()) == "#0072b2" and not solid.get_hatch()
    assert to_hex(hatched.get_edgecolor()) == "#0072b2" and hatched.get_hatch()


def test_the_best_models_confusion_sums_only_runs_of_one_label_space(tmp_path):
    """A sweep over corpora mixes label spaces (EMO-DB's 7 classes, URDU's 4): the matrix sums the runs of the commonest
    one instead of failing to add a 7 x 7 to a 4 x 4."""
    import numpy as np

    from ser_lightning.evaluation.rows import EvaluationRows
    from ser_lightning.experiments.figures import best_confusion

    def kept(classes: int, seed: int) -> EvaluationRows:
        labels = np.arange(2 * classes) % classes
        probabilities = np.eye(classes)[(labels + seed) % classes]
        return EvaluationRows.from_batch([f"c{i}" for i in range(classes)], {}, labels, probabilities, probabilities)

    test_rows = {"a": kept(7, 0), "b": kept(7, 1), "c": kept(4, 0)}
    rows = [{"run": run, "metric": "ua", "group": "all", "snr": "clean", "value": 0.5, "backbone": "m"} for run in test_rows]
    drawn = best_confusion(rows, test_rows, "ua", tmp_path)
    assert drawn is not None and drawn.png.is_file() and "2 runs, those with these 7 classes" in drawn.caption
