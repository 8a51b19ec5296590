"""One dossier per rendered form (services/submissions.py): the form's token is recorded in the
dossier's own transaction, so the same form sent twice, even at the same instant, makes one dossier."""

import threading

from onestop.models import Dossier, FormSubmission
from onestop.services import dossiers, submissions
from onestop.services.users import portal_user
from tests.web.pages import FORMS, folder_zip
from tests.web.test_forms import GOOD


def test_two_simultaneous_sends_of_one_form_make_one_dossier_and_both_see_its_key(app, admin_api):
    assert admin_api.upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    token, barrier, results = submissions.new_token(), threading.Barrier(2), []

    def send():
        with app.app_context():
            barrier.wait()
            dossier, key = dossiers.submit_online(portal_user(), "household_business", dict(GOOD), submission=token)
            results.append((dossier.code, key))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1]
    with app.app_context():
        assert Dossier.select().count() == 1 and FormSubmission.select().count() == 1
        assert dossiers.track(*results[0]).code == results[0][0]  # the key shown the second time works


def test_the_key_is_kept_sealed_so_the_database_alone_cannot_read_it(app, admin_api):
    assert admin_api.upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    token = submissions.new_token()
    with app.app_context():
        dossier, key = dossiers.submit_online(portal_user(), "household_business", dict(GOOD), submission=token)
        row = FormSubmission.get()
        assert key not in row.sealed_key and token not in row.token_hash
        assert submissions.first_dossier(submissions.new_token()) is None
        again = submissions.first_dossier(token)
        assert again.code == dossier.code and again.lookup_key == key and again.resubmitted
