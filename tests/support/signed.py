"""A dossier whose result is ready and the centre's signing key, for the tests of signed results."""

from onestop.models import Dossier
from onestop.services import dossiers, signing
from onestop.status import Status
from tests.conftest import make_user
from tests.process_models import upload_bundled

COPY = "2.000815"  # bundled: certification of copies
APPLICATION = {"requester_full_name": "Lê Văn Tâm", "requester_citizen_id": "001203009999",
               "papers": [{"paper_name": "Bằng tốt nghiệp", "pages": 2, "copies": 1}]}
APPLICANT = {"name": "Nguyễn Thị Hường", "citizen_id": "001203009999"}


def officer_with_procedure(admin_api):
    upload_bundled(admin_api, "copy_certification")
    user, _token = make_user("canbo-ky", roles=("officer",), password="mat-khau-dai-du-12")
    return user


def resolved_dossier(officer, status=Status.RESOLVED):
    """A dossier received at the counter, its result declared ready (the steps that lead there are the
    workflow's business, not the signature's)."""
    dossier = dossiers.start_dossier(officer, COPY, APPLICATION, APPLICANT, channel="counter")
    Dossier.update(status=status).where(Dossier.id == dossier.id).execute()
    return Dossier.get_by_id(dossier.id)


def with_keys():
    """The default centre's signing key and certificate, issued by the installation's local root."""
    return signing.create_keys()
