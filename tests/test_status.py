"""A dossier's national status lives in one module: every status has its national code and its
labels in both languages, the transition table covers every status, and an illegal move is refused."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.pofile import read_po

from onestop.status import ENDED, INITIAL, TRANSITIONS, IllegalTransition, Status, transition

CATALOGUE = Path(__file__).resolve().parents[1] / "platform" / "onestop" / "translations" / "vi" / "LC_MESSAGES" / \
    "messages.po"


def _vietnamese():
    with open(CATALOGUE, "rb") as fh:
        return read_po(fh)


def _unlabelled(statuses, catalogue):
    """(status, what is missing) for every status without a national code or a label in English
    (its message id) and Vietnamese (its translation, not fuzzy)."""
    missing = []
    for status in statuses:
        if not isinstance(status.national_code, int) or not status.national_name:
            missing.append((status.value, "national code"))
        for kind, label in (("label", status.label), ("citizen label", status.citizen_label)):
            if label is None and kind == "citizen label":
                continue  # optional: the portal then shows the work's progress
            message = catalogue.get(label) if label else None
            if not label:
                missing.append((status.value, kind))
            elif message is None or not message.string or message.fuzzy:
                missing.append((status.value, f"Vietnamese {kind}"))
    return missing


def test_every_status_has_a_national_code_and_labels_in_english_and_vietnamese():
    assert _unlabelled(Status, _vietnamese()) == []


def test_a_status_without_a_label_or_its_vietnamese_or_a_national_code_is_caught():
    catalogue = _vietnamese()
    unlabelled = SimpleNamespace(value="unlabelled", national_code=11, national_name="Thử", label="",
                                 citizen_label=None)
    untranslated = SimpleNamespace(value="untranslated", national_code=12, national_name="Thử",
                                   label="a label nobody translated", citizen_label="Waiting for your documents")
    uncoded = SimpleNamespace(value="uncoded", national_code=None, national_name="", label="new", citizen_label=None)
    assert _unlabelled([unlabelled, untranslated, uncoded], catalogue) == [
        ("unlabelled", "label"), ("untranslated", "Vietnamese label"), ("uncoded", "national code")]


def test_the_national_codes_are_the_catalogue_one_to_ten_each_once():
    assert sorted(s.national_code for s in Status) == list(range(1, 11))
    assert (Status.NEW.national_code, Status.PROCESSING.national_code, Status.RETURNED.national_code) == (1, 4, 10)


def test_the_transition_table_has_a_row_for_every_status_and_leads_only_to_statuses():
    assert set(TRANSITIONS) == set(Status)
    assert all(isinstance(target, Status) for targets in TRANSITIONS.values() for target in targets)


def test_every_status_can_be_reached_from_a_first_one_and_an_ended_one_is_final():
    reached, frontier = set(INITIAL), list(INITIAL)
    while frontier:
        for target in TRANSITIONS[frontier.pop()] - reached:
            reached.add(target)
            frontier.append(target)
    assert reached == set(Status)
    assert all(TRANSITIONS[status] == frozenset() for status in ENDED)


@pytest.mark.parametrize(("current", "target"), [
    ("processing", "not_accepted"),  # refused at reception only, before the work starts
    ("stopped", "processing"),  # an ended dossier stays ended
    ("withdrawn", "received"),
    ("returned", "new"),  # nothing goes back to the start
    ("awaiting_financial_obligation", "supplement_requested"),  # one wait on the citizen at a time
])
def test_an_illegal_transition_is_refused_with_a_message_that_names_both_statuses(current, target):
    with pytest.raises(IllegalTransition) as refused:
        transition(current, target)
    assert Status(current).label in str(refused.value) and Status(target).label in str(refused.value)


def test_a_legal_transition_or_staying_put_gives_the_target_status():
    assert transition("received", "processing") is Status.PROCESSING
    assert transition("supplement_requested", "supplement_requested") is Status.SUPPLEMENT_REQUESTED
    assert transition(Status.RESOLVED, Status.RETURNED) is Status.RETURNED


def test_a_value_that_is_no_status_is_a_programming_error_not_an_illegal_move():
    with pytest.raises(ValueError) as raised:
        transition("received", "archived")
    assert not isinstance(raised.value, IllegalTransition)
