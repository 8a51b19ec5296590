"""Answers reach the WSGI server in one piece when their body is in memory (granian then sends headers
and body at once instead of streaming them through its channel); a stream stays a stream."""

import io

from flask import send_file
from werkzeug.test import EnvironBuilder


def _call(app, environ):
    started = []
    body = app(environ, lambda status, headers, exc_info=None: started.append((status, dict(headers))))
    return started[0], body


def test_a_json_answer_is_handed_to_the_server_as_one_piece(sqlite_app):
    (status, headers), body = _call(sqlite_app, EnvironBuilder(path="/healthz").get_environ())
    assert status.startswith("200")
    assert type(body) is list and len(body) == 1 and type(body[0]) is bytes
    assert int(headers["Content-Length"]) == len(body[0])
    assert body[0] == sqlite_app.test_client().get("/healthz").data


def test_a_head_request_gets_an_empty_piece_with_the_bodys_length(sqlite_app):
    (status, headers), body = _call(sqlite_app, EnvironBuilder(path="/healthz", method="HEAD").get_environ())
    assert status.startswith("200") and body == [b""]
    assert int(headers["Content-Length"]) > 0


def test_a_response_closes_once_its_piece_is_joined(sqlite_app):
    closed = []
    with sqlite_app.test_request_context():
        response = sqlite_app.response_class(b"done")
        response.call_on_close(lambda: closed.append(True))
        _head, body = _call(response, EnvironBuilder().get_environ())
    assert body == [b"done"] and closed == [True]


def test_a_streamed_body_stays_an_iterator_the_server_pulls(sqlite_app):
    pulled = []

    def pieces():
        for piece in (b"a", b"b", b"c"):
            pulled.append(piece)
            yield piece

    with sqlite_app.test_request_context():
        streamed = sqlite_app.response_class(pieces())
        file = send_file(io.BytesIO(b"%PDF-1.7"), mimetype="application/pdf")
        environ = EnvironBuilder().get_environ()
        _head, body = _call(streamed, environ)
        assert not isinstance(body, list) and pulled == []  # nothing read before the server asks
        assert b"".join(body) == b"abc"
        body.close()
        _head, body = _call(file, environ)
        assert not isinstance(body, list)
        assert b"".join(body) == b"%PDF-1.7"
        body.close()
