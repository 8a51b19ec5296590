"""The back office's search of dossiers: by the applicant's name, citizen ID, phone or email, or the
dossier's code, diacritics ignored (services.search), within the administrator's scope."""

from flask import g
from flask_login import current_user

from onestop.services import centres, search


class ApplicantSearch:
    """Mixed into the dossiers' list view: the words typed in flask-admin's search box are looked
    up in the search index instead of matched with LIKE against the stored JSON (which found
    "Nguyễn" but neither "nguyen" nor "NGUYỄN")."""

    def get_list(self, page, sort_column, sort_desc, search_words, filters, execute=True, page_size=None):
        g.onestop_dossier_search = search_words or ""
        return super().get_list(page, sort_column, sort_desc, None, filters, execute, page_size)

    def get_query(self):
        query = super().get_query()
        matching = search.applicant_filter(g.get("onestop_dossier_search", ""), centres.scope_ids(current_user.user))
        return query if matching is None else query.where(matching)
