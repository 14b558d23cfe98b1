"""The split summary's group names: made once, read back by the model card."""

from ser_lightning.data import Utterance
from ser_lightning.data.summary import count_classes, group_name, parse_group_name


def test_group_names_round_trip_and_count_each_role_apart():
    source = Utterance("a.wav", "angry", "03", "de", "emodb")
    target = Utterance("b.wav", "sad", "s1", "ur", "urdu", role="target")
    assert group_name(target) == "target:urdu/ur" and parse_group_name(group_name(target)) == ("target", "urdu", "ur")
    counts = count_classes([source, target, target.with_(path="c.wav")], ["angry", "sad"])
    assert counts == {
        "source:emodb/de": {"classes": {"angry": 1, "sad": 0}, "speakers": 1},
        "target:urdu/ur": {"classes": {"angry": 0, "sad": 2}, "speakers": 1},
    }
