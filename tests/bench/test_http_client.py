"""bench/http.py's socket client reads each answer whole, however the server delimits it, and sends the
header lines http.client sends."""

import socket
import threading

from .test_http_footer import _bench_http

ANSWERS = [
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\ncontent-length: 7\r\n\r\n{\"a\":1}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
    b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nno length, ends with the connection",
]


def _server(listener, received):
    """Answers the three requests above on one connection, in pieces, then closes it."""
    conn, _ = listener.accept()
    with conn:
        buffer = b""
        for answer in ANSWERS:
            while b"\r\n\r\n" not in buffer:
                buffer += conn.recv(65536)
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(buffer) < length:
                buffer += conn.recv(65536)
            received.append((head, buffer[:length]))
            buffer = buffer[length:]
            for i in range(0, len(answer), 5):  # a few bytes at a time: the client must gather them
                conn.sendall(answer[i:i + 5])


def test_answers_by_length_by_chunks_and_by_close_are_read_whole():
    http = _bench_http()
    listener = socket.create_server(("127.0.0.1", 0))
    received = []
    thread = threading.Thread(target=_server, args=(listener, received), daemon=True)
    thread.start()
    conn = http.RawConnection(listener.getsockname()[1], timeout=10)
    headers = {"Authorization": "Bearer t", "Content-Type": "application/json", "Connection": "keep-alive"}
    post = conn.head("POST", "/api/v1/dossiers", headers, b'{"x":1}') + b'{"x":1}'
    assert conn.exchange(post) == (201, b'{"a":1}')
    assert conn.exchange(conn.head("GET", "/healthz", headers, b"")) == (200, b"abcde")
    assert conn.exchange(conn.head("GET", "/healthz", headers, b"")) == (500, b"no length, ends with the connection")
    assert conn.sock is None  # closed after an answer that ended with the connection
    thread.join(timeout=10)
    listener.close()
    first, second = received[0][0].decode().split("\r\n"), received[1][0].decode().split("\r\n")
    assert first == ["POST /api/v1/dossiers HTTP/1.1", f"Host: 127.0.0.1:{conn.port}", "Accept-Encoding: identity",
                     "Content-Length: 7", "Authorization: Bearer t", "Content-Type: application/json",
                     "Connection: keep-alive"]
    assert received[0][1] == b'{"x":1}'
    assert "Content-Length: 0" not in second and second[0] == "GET /healthz HTTP/1.1"
