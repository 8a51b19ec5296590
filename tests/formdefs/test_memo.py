"""What is worked out from a form once, kept per form object (onestop.formdefs.memo)."""

import threading

from onestop.formdefs.memo import per_form_object


def _counting(maxsize):
    calls = []

    @per_form_object(maxsize)
    def walk(schema, ui):
        calls.append((schema, ui))
        return len(calls)

    return walk, calls


def test_the_same_form_objects_are_worked_out_once():
    walk, calls = _counting(8)
    schema, ui = {"type": "object"}, None
    assert walk(schema, ui) == walk(schema, ui) == 1
    assert len(calls) == 1


def test_an_equal_but_other_form_object_is_worked_out_again():
    walk, calls = _counting(8)
    first, second = {"type": "object"}, {"type": "object"}
    assert walk(first, None) == 1
    assert walk(second, None) == 2  # equal content, another object: another form's answer is never given
    assert walk(first, {}) == 3  # the UI schema is part of what decides


def test_an_entry_keeps_its_objects_so_a_new_object_at_a_freed_address_is_not_taken_for_it():
    walk, calls = _counting(8)
    assert walk({"type": "object"}, None) == 1  # the argument's only other reference is gone at once
    fresh = [walk({"type": "string"}, None) for _ in range(3)]
    assert fresh == [2, 3, 4]


def test_at_most_maxsize_answers_are_kept_the_least_recently_used_dropped():
    walk, calls = _counting(2)
    a, b, c = {"a": 1}, {"b": 1}, {"c": 1}
    walk(a, None), walk(b, None), walk(a, None), walk(c, None)  # b is the least recently used
    assert len(walk.kept) == 2
    assert walk(a, None) == 1 and walk(b, None) == 4


def test_threads_asking_at_once_all_get_an_answer():
    walk, _calls = _counting(4)
    forms = [{"n": n} for n in range(16)]
    answers, errors = [], []

    def ask():
        try:
            for form in forms * 20:
                answers.append(walk(form, None))
        except Exception as exc:  # noqa: BLE001 (the test reports it)
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(answers) == 4 * 16 * 20
