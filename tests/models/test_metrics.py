import pytest
import torch

from ser_lightning.models.metrics import confusion_markdown, results_table, ser_metrics


def test_ua_averages_recall_over_classes_present_in_the_reference():
    metrics = ser_metrics(4, confusion=True)
    # class 3 never occurs in the reference but is predicted once: UA is the mean of recalls 0.5 and 1.0
    values = metrics(torch.nn.functional.one_hot(torch.tensor([0, 3, 1, 1]), 4).float(), torch.tensor([0, 0, 1, 1]))
    assert float(values["ua"]) == 0.75
    assert float(values["wa"]) == 0.75
    assert values["confusion"][0, 3] == 1


def test_ua_differs_from_wa_on_imbalanced_data():
    metrics = ser_metrics(2)
    values = metrics(torch.tensor([[1.0, 0.0]] * 10), torch.tensor([0] * 8 + [1] * 2))
    assert float(values["wa"]) == pytest.approx(0.8) and float(values["ua"]) == 0.5


def test_tables_render_every_group_and_class():
    table = results_table({"all": {"ua": 0.5, "wa": 0.6, "f1": 0.4, "n": 10}, "ur": {"ua": 0.25, "wa": 0.3, "f1": 0.2, "n": 4}})
    assert "ur          0.250  0.300  0.200      4" in table
    markdown = confusion_markdown(torch.tensor([[2, 0], [1, 3]]), ["angry", "sad"])
    assert "| sad | 1 | 3 |" in markdown
