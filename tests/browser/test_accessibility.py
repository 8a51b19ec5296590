"""Every page passes axe-core against WCAG 2.1 AA, in Vietnamese and English, on a desktop and a phone;
and a citizen and an officer get through their journey with the keyboard alone.

The pages are the app's own URL map: every GET route without arguments, and every route with
arguments filled with real objects seeded once for the module (as tests/web/test_isolation.py fills
them, or with the object a route shows where that map's is another's: a centre's queue, a sitting, the
citizen's own dossier, this browser's submission, a signed result), so a new page is checked without anyone
adding it here; a page that answers 4xx/5xx fails the walk unless listed as an expected error page. Pages that answer with something other
than HTML (CSV, XLSX, JSON, files) are not pages to read. One live server (the app in this process,
served by werkzeug on its own threads), one Chromium, one browser context per language that loads each
page once and checks it at both sizes."""

import json
import re
import threading

import pytest

from onestop.clock import ShiftedClock
from tests.browser.test_journey import CHROMIUM  # (importing it skips the module where Chromium is absent)
from tests.conftest import _make_app, make_user
from tests.process_models import bundled_files
from tests.web.pages import PDF

sync_api = pytest.importorskip("playwright.sync_api")

AXE_URL = "/static/vendor/axe-core/axe.min.js"  # the vendored copy the app serves
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}
PASSWORD = "Mật-khẩu-quản-trị-2026"
# Routes that are no page: the language switch and the citizen's sign-in (redirects, the latter to the
# identity provider's site), the server's health, static files.
NOT_PAGES = {"i18n.choose", "public.health", "static", "admin.static", "desk.logout", "citizen.sign_in"}
# Pages the walk reaches as an error on purpose, with why (the error page itself is checked by axe).
EXPECTED_ERRORS = {
    "/signin/callback": 400,  # no answer of the provider to finish a sign-in with: the sign-in-failed page
}
CITIZEN = "001085012345"  # a test citizen of the identity simulator
APPLICATION = {"requester_full_name": "Nguyễn Thị Hoa", "requester_citizen_id": "022190012345",
               "papers": [{"paper_name": "Văn bằng tốt nghiệp", "pages": 2, "copies": 1}]}


def _seed(app):
    """One of everything a page can show, in the default centre, administered by `qt.admin`."""
    from onestop.models import Attachment, AuditEvent, Centre, Procedure, WebhookDelivery, WorkItem
    from onestop.services import catalogue, dossiers, lifecycle, onboarding, practice, procedures, units
    from onestop.services.attachments import Upload
    from tests.services.test_catalogue import reference_bytes
    from tests.services.test_practice import APPLICATION as PRACTICE

    with app.app_context():
        admin, _ = make_user("qt.admin", ("admin", "officer", "leader", "system_admin"),
                             password=PASSWORD)  # the national pages too
        webhook = _seed_issue_21_webhook(admin)
        procedures.upload_procedure(admin, [procedures.Upload(p.name, p.read_bytes())
                                            for p in bundled_files("copy_certification")])
        dossier = dossiers.start_dossier(admin, "2.000815", APPLICATION)
        lifecycle.request_supplement(admin, dossier.code, "Bản chính văn bằng")
        lifecycle.supplement_received(admin, dossier.code, "đã nộp", {"files": Upload("van-bang.pdf", PDF)})
        draft = onboarding.submit(admin, [procedures.Upload(p.name, p.read_bytes())
                                          for p in bundled_files("copy_certification")])
        trial = practice.start(admin, draft.draft_id, PRACTICE)
        imported = catalogue.import_file(admin, "one.json", json.dumps(json.loads(reference_bytes())[:1]).encode(),
                                         run_tests=False)
        unit = units.create_unit(admin, "TP", "Phòng Tư pháp")
        centre = Centre.get(Centre.code == "default")
        extra = _seed_issue_18_to_20(admin, dossier, centre) | webhook | _seed_issue_21_signing(admin) \
            | _seed_sitting_and_citizen(admin)
        extra["delivery"] = WebhookDelivery.get(WebhookDelivery.subscription == webhook["subscription"]).id
        return extra | {"code": dossier.code, "key": dossier.lookup_key, "procedure": "2.000815", "task": WorkItem.get(WorkItem.dossier == dossier.id).id,
                "attachment": Attachment.get(Attachment.dossier == dossier.id).id, "draft": draft.draft_id,
                "practice": trial.id, "practice_task": trial.ready[0]["id"], "unit_code": unit.code,
                "username": "qt.admin", "import": imported.id,
                "rows": {"dossier": dossier.id, "procedure": Procedure.get(Procedure.code == "2.000815").id,
                         "unit": unit.id, "user": admin.id, "centre": centre.id,
                         "audit": AuditEvent.select().first().id}}


def _seed_issue_21_webhook(admin) -> dict:
    """A webhook subscription (its deliveries are written as the seeded dossier's events happen)."""
    from onestop.models import WebhookSecret
    from onestop.services import connectors, webhooks

    connectors.save_settings(admin, "127.0.0.1", "")
    subscription, _secret = webhooks.subscribe(admin, "http://127.0.0.1:9/hook", list(webhooks.EVENTS))
    return {"subscription": subscription.id,
            "webhook_secret": WebhookSecret.get(WebhookSecret.subscription == subscription.id).id}


def _seed_issue_18_to_20(admin, dossier, centre) -> dict:
    """A lookup table, a connector secret, a queue with a ticket, a scanned paper and its kept copy."""
    from onestop.models import CitizenDocument, local_today
    from onestop.services import connectors, deadlines, lookup_tables, papers, procedures, queue
    from onestop.services.attachments import Upload
    from tests.web.test_counter_floor import png

    lookup_tables.put(admin, "fees", "fees.json", json.dumps({"ban_sao": 2000}).encode())
    connectors.save_secret(admin, "b_token", "khoa-ket-noi-0001")
    deadlines.set_office_hours(admin, [("00:00", "23:59")], None)
    deadlines.set_day(admin, local_today(), True, "open for the test")
    group = queue.save_group(admin, "A", "Hộ tịch")
    counter = queue.save_counter(admin, "1", "Quầy 1", [group.id])
    ticket = queue.issue(centre.code, group.id)
    metadata = procedures.catalogue_entry(admin, "2.000815")[1].metadata
    scanned = papers.prepare(admin, metadata, "022190012345", [papers.SlotInput(
        0, [Upload("trang.png", png("white"))], original_seen=True, confirmed=True)])
    [paper] = papers.record(admin, dossier, "022190012345", scanned)
    return {"table": "fees", "counter": counter.id, "ticket": ticket.id, "ticket_token": ticket.token,
            "paper": paper.id, "document": CitizenDocument.get(CitizenDocument.dossier == dossier.id).id}


def _seed_sitting_and_citizen(admin) -> dict:
    """A dossier decided on the spot (its sitting's page) and one the test citizen submitted signed in
    (their "my dossiers" page of it)."""
    from onestop.services import dossiers, identity, procedures, sittings
    from onestop.services.users import portal_user
    from tests.services.test_sittings import APPLICATION as ON_THE_SPOT
    from tests.services.test_sittings import TEMPLATE

    procedures.upload_procedure(admin, [procedures.Upload(p.name, p.read_bytes()) for p in sorted(TEMPLATE.iterdir())])
    metadata = procedures.catalogue_entry(admin, "MAU.ON_THE_SPOT")[1].metadata
    counter = dossiers.start_dossier(admin, "MAU.ON_THE_SPOT", ON_THE_SPOT, channel="counter")
    sittings.open_sitting(admin, counter, metadata, None)
    citizen = identity.Citizen(citizen_id=CITIZEN, name="Nguyễn Văn Hùng", subject="walk", issuer="simulator")
    mine, _key = identity.submit(portal_user(), "2.000815", citizen, APPLICATION, {})
    return {"sitting": counter.code, "mine": mine.code}


def _seed_issue_21_signing(admin) -> dict:
    """A signed result: its verification page shows a verdict."""
    from onestop.services import signing
    from tests.support.signed import resolved_dossier, with_keys

    with_keys()
    record, _content = signing.result(resolved_dossier(admin))
    return {"verify": record.code}


# Routes whose <code> is another object's than the seeded dossier's (tests/web/test_isolation.py's map
# gives them a code they answer 404 to): the key in the seeded ids of the one each shows.
WALK_CODES = {"desk.intake_receipt": "code", "spot.sitting": "sitting", "citizen.my_dossier": "mine",
              "verify.by_code": "verify", "portal.submitted": "submitted", "portal.receipt": "submitted",
              "spot.sitting_state": "sitting", "portal.receipt_pdf": "submitted"}
# flask-admin's pages a view switches off (it answers them 404): the switch each page needs.
ADMIN_SWITCHES = {"create_view": "can_create", "edit_view": "can_edit", "details_view": "can_view_details"}


def page_paths(app, ids) -> list[str]:
    """Every page of the app's URL map, arguments filled with the seeded objects."""
    from tests.web.test_isolation import RECORD_PAGES, _url

    admin_views = {v.endpoint: v for admin in app.extensions.get("admin", []) for v in admin._views}
    paths = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES or rule.rule.startswith("/api/"):
            continue
        view, _, page = rule.endpoint.partition(".")
        if page in ("ajax_lookup", "export") or rule.endpoint.startswith(("modeller.", "testrun.diagram")) \
                and rule.endpoint not in ("modeller.index", "modeller.page"):
            continue  # JSON, files and downloads, never HTML
        if page in ADMIN_SWITCHES and not getattr(admin_views.get(view), ADMIN_SWITCHES[page], True):
            continue  # a record page this back-office view does not offer
        if rule.endpoint in ("portal.procedure", "portal.submit", "version_diff.compare"):
            path = rule.rule.replace("<code>", ids["procedure"])
        elif rule.endpoint.startswith("queue."):  # a centre's queue: its code, not a dossier's
            path = _url(rule, ids | {"code": "default"})
        elif rule.endpoint in WALK_CODES:
            path = rule.rule.replace("<code>", ids[WALK_CODES[rule.endpoint]])
        else:
            path = _url(rule, ids)
        if rule.endpoint == "portal.track_link":
            path = f"{path}?k={ids['key']}"  # the citizen's page itself (a wrong key is counted and throttled)
        if page in RECORD_PAGES and view in ids["rows"]:
            path = f"{path}?id={ids['rows'][view]}"
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def live(tmp_path_factory, database_templates, engine):
    """The app on a seeded SQLite database, served over real HTTP for the module."""
    from onestop.simulators import identity as provider_app
    from tests.support.simulators import serving

    folder = tmp_path_factory.mktemp("a11y")
    with serving(provider_app.create_app(folder / "vneid")) as provider:
        yield from _served(database_templates, folder, engine, provider)


def _served(database_templates, folder, engine, provider):
    from werkzeug.serving import make_server

    # Citizens sign in at the identity simulator (real OpenID over HTTP): their own pages are walked too.
    app = _make_app(database_templates.sqlite(folder / "onestop.db"), folder, engine, clock=ShiftedClock(),
                    oidc_issuer=provider, oidc_client_id="onestop", oidc_client_secret="simulator-secret")
    ids = _seed(app)
    # The browser keeps the style sheets and scripts for the walk instead of asking again on each of its
    # ~200 loads whether they changed (Flask's default, a 304 from this process every time): the pages
    # are the same, the walk spends less on asking.
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app, ids
    server.shutdown()
    thread.join(5)


# V8 in the walk's Chromium interprets and compiles to baseline code only (`--max-opt=1`), without its
# optimising compilers (Maglev, TurboFan). Every walked page is a new document, so axe's functions get new
# closures there and were optimised again for each page's two runs, on the renderer's worker threads, and
# thrown away at the next load: ~6 s of Chromium's CPU per language of ~36 (docs/walk.md). Baseline code
# is kept with the compiled script and serves every page. What a page and axe compute is the same.
WALK_V8 = "--js-flags=--max-opt=1"


@pytest.fixture(scope="module")
def browser(chromium):
    """The walk's own Chromium: the shared one's flags, and V8 without its optimising compilers."""
    from tests.browser.conftest import lean_switches

    launched = chromium.browser_type.launch(executable_path=CHROMIUM, args=["--no-sandbox", *lean_switches(), WALK_V8])
    yield launched
    launched.close()


def _sign_in(page, base):
    page.goto(base + "/desk/login")
    page.locator("#username").fill("qt.admin")
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()


def serious_violations(page, inject=True) -> list[dict]:
    """axe-core's serious and critical WCAG 2.1 AA violations on the page as it stands (axe injected
    unless this document already has it)."""
    # Only the violations: axe then skips describing every pass, inapplicable and incomplete rule; and
    # only their gist leaves the page (not the ~90 rules' descriptions and snippets axe returns).
    return page.evaluate(_SERIOUS, {"tags": WCAG_21_AA, "axe": AXE_URL if inject else None})


# axe is loaded by its address on the server rather than by its text (the browser then keeps the 650 kB
# script, cached, and V8 its compiled code, across pages instead of being sent and parsing it again on
# each), in the same call as its first run (one round trip to the browser less per page than
# Playwright's add_script_tag, and no element handle kept for the page).
# Preloaded assets: the media alone. axe's default also fetches and parses every style sheet of the page
# again (its "cssom") before each run, for one rule only, css-orientation-lock, which is experimental and
# so never among the rules these tags run (test_axe_runs_no_rule_that_reads_the_style_sheets holds it);
# no-autoplay-audio, which is, needs the media.
# No CSS selector is made for the nodes of the answer (`selectors: false`): making one for each node axe
# reports (one per rule at least, passes included) is about a quarter of a run on these pages. Selectors
# only name where a violation is; a page with a serious one is checked again with them, so the report of
# a failure is the same (test_the_walks_check_names_where_a_violation_is holds it).
_SERIOUS = """async ({tags, axe: url}) => {
  if (url) await new Promise((loaded, failed) => {
    const script = document.createElement('script');
    script.src = url; script.onload = loaded;
    script.onerror = () => failed(new Error('axe-core did not load from ' + url));
    document.head.appendChild(script);
  });
  const serious = async selectors => (await axe.run(document, {
      runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'], preload: {assets: ['media']}, selectors}))
    .violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
  let found = await serious(false);
  if (found.length) found = await serious(true);  // the same document again, now naming where
  return found.map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target)}));
}"""


@pytest.fixture(scope="module")
def walks(live, browser):
    """Each language's walk over every page, done once for the module and read by the tests of both
    sizes: {language: {size: {page: serious violations}}}."""
    done = {}

    def walk(language):
        if language not in done:
            done[language] = _walk(live, browser, language)
        return done[language]
    return walk


def _walk(live, browser, language) -> dict:
    """Every page loaded once in the language and checked at every size: the page is loaded at one
    size, checked, then the viewport is resized to the other and axe runs again on the same document
    (its styles and layout follow the viewport as they do on a load at that size; a load costs the
    server, the network and Chromium more than axe's run)."""
    base, app, ids = live
    context = browser.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    page = context.new_page()
    page.goto(f"{base}/lang/{language}")
    found = {size: {} for size in SIZES}
    anonymous = ["/", "/desk/login", "/stats", f"/track/{ids['code']}?k={ids['key']}", "/verify",
                 f"/verify/{ids['verify']}"]
    for path in anonymous:
        _check(page, base + path, found, f"{path} (signed out)")
    _sign_in(page, base)
    # A dossier this browser submitted (its confirmation and receipt are shown to it alone), then the
    # test citizen signed in at the provider (their own dossiers' pages).
    submitted, _key = _submit_online(page, base, ids["procedure"])
    page.goto(f"{base}/signin")
    page.locator("#known").select_option(CITIZEN)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(base)))
    for path in page_paths(app, ids | {"submitted": submitted}):
        _check(page, base + path, found, path)
    context.close()
    return found


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_walked_page_answers_with_itself_not_an_error_page(walks, language):
    """A page the walk reaches as an error (a wrong argument, a missing object) is a page never checked:
    axe would read the same error page again. Only the pages listed as expected errors may answer so."""
    answers = walks(language)["answers"]
    errors = {path: status for path, status in answers.items() if status >= 400}
    assert errors == EXPECTED_ERRORS, "\n".join(f"{status} {path}" for path, status in sorted(errors.items()))


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_page_has_no_serious_or_critical_accessibility_violation(walks, language, size):
    found = walks(language)[size]
    checked = len(found)
    print(f"\naxe-core WCAG 2.1 AA, {language}, {size}: {checked} pages")
    for path, violations in found.items():
        print(f"  {path}: {len(violations)} serious/critical")
    assert checked >= 40
    problems = {path: v for path, v in found.items() if v}
    assert problems == {}, "\n".join(f"{path}: {v['id']} ({v['impact']}) {v['help']} at {v['targets']}"
                                      for path, found_there in problems.items() for v in found_there)


# Addresses that name a file (a PDF, a spreadsheet, JSON, an attachment): asked first outside the browser,
# with the browser's cookies and its Accept header (context.request), and loaded in the browser only if
# they answer with a page. Loaded directly they cost a navigation (a download or a document of text) of
# the browser, its driver and this process each, ~0.1 s of CPU, for an answer the walk only skips.
FILES = re.compile(r"\.(pdf|csv|xlsx|json)$|/(files|attachments)/")
BROWSERS_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def _answers_with_a_page(page, url) -> bool:
    """Whether the address answers this browser's context with HTML, asked without loading it."""
    answer = page.context.request.get(url, headers={"Accept": BROWSERS_ACCEPT})
    try:
        return "text/html" in (answer.headers.get("content-type") or "")
    finally:
        answer.dispose()


def _check(page, url, found, name):
    """Load the address; if it answers with a page, check it at every size, beginning with the current."""
    if FILES.search(url.split("?")[0]) and not _answers_with_a_page(page, url):
        found.setdefault("files", []).append(name)
        return  # a file, never a page to read
    try:
        answer = page.goto(url)
    except sync_api.Error as error:
        if "Download is starting" in error.message:
            return  # a file to save (a PDF, a spreadsheet), never a page to read
        raise
    if "text/html" not in (answer.headers.get("content-type") or ""):
        return  # JSON or a file the browser shows as it is
    found.setdefault("answers", {})[name] = answer.status
    current = next(size for size, viewport in SIZES.items() if viewport == page.viewport_size)
    for n, size in enumerate(sorted(SIZES, key=lambda size: size != current)):
        if size != current:
            page.set_viewport_size(SIZES[size])
        found[size][name] = serious_violations(page, inject=n == 0)


BROKEN = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A broken page</title>
<style>p.faint { color: #000; background: #fff; } @media (max-width: 600px) { p.faint { color: #bbb; } }</style></head>
<body><main><h1>A broken page</h1><img src="data:image/svg+xml,%3Csvg xmlns=%27http://www.w3.org/2000/svg%27 width=%2740%27 height=%2740%27/%3E">
<p class="faint">Black on white on a desktop, light grey on white on a phone.</p></main></body></html>"""


def test_the_walks_check_finds_an_image_without_text_at_both_sizes_and_a_contrast_fault_only_on_a_phone(live, browser):
    """The walk's own check (one load, axe at the first size, the viewport resized, axe again on the same
    document) on a page broken on purpose: what is wrong at every size is found at every size, and what the
    narrow layout alone breaks is found at the phone's size only."""
    base, _app, _ids = live
    context = browser.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    page = context.new_page()
    page.route(base + "/__broken__", lambda route: route.fulfill(
        status=200, body=BROKEN, headers={"Content-Type": "text/html; charset=utf-8"}))
    found = {size: {} for size in SIZES}
    _check(page, base + "/__broken__", found, "broken")
    context.close()
    assert {v["id"] for v in found["desktop"]["broken"]} == {"image-alt"}
    assert {v["id"] for v in found["phone"]["broken"]} == {"image-alt", "color-contrast"}


def test_the_walk_skips_a_file_without_loading_it_and_still_checks_a_page_at_a_files_address(live, browser):
    """An address that names a file is asked outside the browser first (FILES): a file is skipped, an
    address of that shape that answers with a page (here the error page of a PDF that does not exist)
    is loaded and checked like any other, its status counted by the error-page guard."""
    base, _app, _ids = live
    context = browser.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    page = context.new_page()
    found = {size: {} for size in SIZES}
    _check(page, base + "/stats.csv", found, "file")
    _check(page, base + "/no-such-result.pdf", found, "missing")
    context.close()
    assert found["files"] == ["file"]
    assert found["answers"] == {"missing": 404}
    assert found["desktop"]["missing"] == found["phone"]["missing"] == []


def _broken_page(live, browser):
    """A desktop page in Vietnamese showing BROKEN (an image without text) at the live server's address."""
    base, _app, _ids = live
    context = browser.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    page = context.new_page()
    page.route(base + "/__broken__", lambda route: route.fulfill(
        status=200, body=BROKEN, headers={"Content-Type": "text/html; charset=utf-8"}))
    page.goto(base + "/__broken__")
    return context, page


def test_the_walks_check_names_where_a_violation_is(live, browser):
    """The walk's check runs axe without making selectors; a page it finds a violation on is checked again
    with them, so a failure still names the element (here the image without text)."""
    context, page = _broken_page(live, browser)
    [image] = serious_violations(page)
    context.close()
    assert image["id"] == "image-alt" and image["targets"] == [["img"]]


def test_axe_runs_no_rule_that_reads_the_style_sheets(live, browser):
    """The walk preloads the media alone for axe, not the style sheets (_SERIOUS): of the rules the walk's
    tags run, the one that needs a preload is no-autoplay-audio (media); css-orientation-lock, the one
    reader of the style sheets, stays out (experimental). A new axe-core whose rules change this fails
    here, and the preload must then be read again."""
    context, page = _broken_page(live, browser)
    serious_violations(page)
    ran, preloading = page.evaluate("""async tags => {
      const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
      const ran = [...r.violations, ...r.passes, ...r.incomplete, ...r.inapplicable].map(rule => rule.id);
      return [ran, axe._audit.rules.filter(rule => rule.preload && ran.includes(rule.id)).map(rule => rule.id)];
    }""", WCAG_21_AA)
    context.close()
    assert "color-contrast" in ran and "image-alt" in ran  # the rules the walk relies on did run
    assert "css-orientation-lock" not in ran
    assert preloading == ["no-autoplay-audio"]


def test_a_citizen_submits_and_an_officer_completes_a_task_with_the_keyboard_alone(live, browser):
    """No mouse: Tab to a control, type, Space to tick, Enter to follow a link or send a form."""
    base, app, ids = live
    context = browser.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    citizen = context.new_page()
    citizen.goto(f"{base}/procedures/{ids['procedure']}")
    _tab_to(citizen, lambda el: el["tag"] == "A" and re.search("/submit$", el["href"] or ""))
    citizen.keyboard.press("Enter")
    citizen.wait_for_url(re.compile(r"/submit$"))
    values = {"requester_full_name": "Lê Văn Tâm", "requester_citizen_id": "001085012345",
              "paper_name": "Văn bằng tốt nghiệp", "pages": "2", "copies": "1"}
    filled = set()
    for _ in range(80):
        citizen.keyboard.press("Tab")
        focused = _focused(citizen)
        name = (focused["name"] or "").rsplit("-", 1)[-1]
        if name in values and name not in filled:
            citizen.keyboard.press("Control+a")
            citizen.keyboard.type(values[name])
            filled.add(name)
        elif focused["tag"] == "BUTTON" and focused["type"] == "submit" and not focused["formnovalidate"] \
                and filled >= set(values):
            citizen.keyboard.press("Enter")
            break
    citizen.wait_for_url(re.compile(r"/submitted/"))
    code = citizen.url.rsplit("/", 1)[-1]  # /submitted/CODE

    officer = context.new_page()
    officer.goto(f"{base}/desk/login")
    officer.keyboard.press("Tab")  # skip link
    _tab_to(officer, lambda el: el["id"] == "username")
    officer.keyboard.type("qt.admin")
    officer.keyboard.press("Tab")
    officer.keyboard.type(PASSWORD)
    officer.keyboard.press("Enter")
    officer.wait_for_url(re.compile(r"/desk/$"))
    _tab_to(officer, lambda el: el["tag"] == "A" and "/desk/tasks/" in (el["href"] or "")
            and code in (el["row"] or ""))
    officer.keyboard.press("Enter")
    officer.wait_for_url(re.compile(r"/desk/tasks/"))
    task_id = officer.url.rsplit("/", 1)[-1]
    heading = officer.get_by_role("heading", level=1).inner_text()
    for _ in range(120):  # take the task if it must be taken, then tick and send its form
        officer.keyboard.press("Tab")
        focused = _focused(officer)
        if focused["tag"] == "INPUT" and focused["type"] == "checkbox" and not focused["checked"]:
            officer.keyboard.press("Space")
        elif focused["tag"] == "BUTTON" and focused["type"] == "submit" and (focused["form"] or "").endswith(f"/desk/tasks/{task_id}"):
            officer.keyboard.press("Enter")
            break
    sync_api.expect(officer.get_by_role("status").first).to_be_visible()
    with app.app_context():
        from onestop.models import WorkItem

        assert WorkItem.get_or_none(WorkItem.id == task_id) is None, heading  # done: off the worklist
    context.close()


_FOCUSED = """() => { const e = document.activeElement; const row = e.closest('tr');
  return {tag: e.tagName, id: e.id, name: e.getAttribute('name'), type: e.getAttribute('type'),
          href: e.getAttribute('href'), checked: !!e.checked, formnovalidate: e.hasAttribute('formnovalidate'), row: row ? row.innerText : null,
          form: e.form ? (e.form.id || e.form.getAttribute('action')) : null}; }"""


def _focused(page) -> dict:
    return page.evaluate(_FOCUSED)


def _tab_to(page, wanted, presses=150):
    seen = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = _focused(page)
        if wanted(focused):
            return
        seen.append(focused["href"] or focused["name"] or focused["tag"])
    raise AssertionError(f"the keyboard never reached the control on {page.url}; it went through {seen[:60]}")


def _submit_online(page, base, procedure):
    """The citizen's online application (typed into the real form); returns (code, lookup key)."""
    page.goto(f"{base}/procedures/{procedure}/submit")
    for name, value in APPLICATION.items():
        if isinstance(value, str):
            page.locator(f'[name="{name}"]').fill(value)
    for name, value in APPLICATION["papers"][0].items():
        page.locator(f'[name$="-{name}"]').first.fill(str(value))
    page.locator("form button[type=submit]:not([formnovalidate])").last.click()
    page.wait_for_url(re.compile(r"/submitted/"))
    return page.url.rsplit("/", 1)[-1], page.locator("#lookup-key").inner_text().strip()


def test_on_a_phone_the_report_shows_every_column_the_receipt_fits_and_the_diagram_reads_at_12_px(live, browser):
    base, _app, ids = live
    phone = SIZES["phone"]
    context = browser.new_context(viewport=phone, locale="vi-VN")
    page = context.new_page()
    code, key = _submit_online(page, base, ids["procedure"])
    page.goto(f"{base}/submitted/{code}/receipt")
    assert page.evaluate("document.documentElement.scrollWidth") <= phone["width"]  # the tracking address wraps
    assert serious_violations(page) == []

    page.goto(f"{base}/track/{code}?k={key}")
    sizes = page.evaluate("""() => [...document.querySelectorAll('svg.diagram text')].map(
        t => { const m = t.getScreenCTM(); return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b); })""")
    assert sizes and min(sizes) >= 12, f"diagram labels drawn at {min(sizes):.1f} px"
    assert page.evaluate("document.documentElement.scrollWidth") <= phone["width"]  # the drawing pans in its box
    assert serious_violations(page) == []
    width = page.locator("svg.diagram").evaluate("svg => svg.getBoundingClientRect().width")
    page.locator("button[data-zoom-by='1.25']").click()
    wider = page.locator("svg.diagram").evaluate("svg => svg.getBoundingClientRect().width")
    page.locator(".diagram-wrap").focus()
    page.keyboard.press("-")
    page.keyboard.press("-")
    narrower = page.locator("svg.diagram").evaluate("svg => svg.getBoundingClientRect().width")
    assert wider > width * 1.2 and narrower < wider / 1.5
    page.locator("button[data-zoom-by='0']").click()
    assert page.locator("svg.diagram").evaluate("svg => svg.getBoundingClientRect().width") == pytest.approx(width, abs=1)

    _sign_in(page, base)
    page.goto(f"{base}/desk/report")
    cells = page.locator("#report tr.total td")
    assert cells.count() == 13
    for i in range(13):  # every column of the report on the phone's screen, named
        box = cells.nth(i).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= phone["width"], (i, box)
    label = cells.nth(2).get_attribute("data-label")
    assert label and label in cells.nth(2).evaluate("td => getComputedStyle(td, '::before').content")
    context.close()
