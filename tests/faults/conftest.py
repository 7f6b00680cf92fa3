"""Fixtures for the delivery fault tests: a loopback HTTP receiver on raw sockets that
answers, hangs or drips its answer a byte at a time (and records what it saw), a real
aiosmtpd relay that can be down and come up, and helpers to queue rows and point
delivery at the sinks."""

from __future__ import annotations

import json
import select
import socket
import threading
import time

import pytest
from sinks import Relays

DRIP_ANSWER = (b"HTTP/1.1 200 OK\r\nX-Drip: " + b"." * 40
               + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


class RawHttpSink:
    """HTTP/1.1 on 127.0.0.1, one thread per connection.  ``mode``:
    'ok'   answers 200 at once;
    'hang' reads the request and never answers (until the client hangs up);
    'drip' answers 200 one byte every ``drip_every`` seconds (len(DRIP_ANSWER) = 82 bytes).
    Every request is recorded: path, headers, body, whether the answer was completed and
    whether the client hung up first."""

    def __init__(self, mode: str = "ok", drip_every: float = 0.1):
        self.mode = mode
        self.drip_every = drip_every
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.received = threading.Event()
        self.closed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self):
        while not self.closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    @staticmethod
    def _peer_gone(conn) -> bool:
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False
        try:
            return conn.recv(65536) == b""     # anything else the client sent is dropped
        except OSError:
            return True

    def _handle(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            entry = {"path": lines[0].split(" ")[1], "headers": headers, "body": body,
                     "completed": False, "hung_up": False, "mode": self.mode}
            with self.lock:
                self.requests.append(entry)
            self.received.set()
            if entry["mode"] == "ok":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                entry["completed"] = True
            elif entry["mode"] == "hang":
                while not self.closed.is_set():
                    if self._peer_gone(conn):
                        entry["hung_up"] = True
                        return
                    time.sleep(0.05)
            else:
                for i in range(len(DRIP_ANSWER)):
                    time.sleep(self.drip_every)
                    if self._peer_gone(conn):
                        entry["hung_up"] = True
                        return
                    try:
                        conn.send(DRIP_ANSWER[i:i + 1])
                    except OSError:
                        entry["hung_up"] = True
                        return
                entry["completed"] = True

    def wait_settled(self, timeout: float = 30):
        """Until every recorded request was answered in full or hung up on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(r["completed"] or r["hung_up"] for r in self.requests):
                    return
            time.sleep(0.05)

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def stop(self):
        self.closed.set()
        self.listener.close()


@pytest.fixture
def sink_factory():
    sinks = []

    def make(mode: str = "ok", **kw) -> RawHttpSink:
        s = RawHttpSink(mode, **kw)
        sinks.append(s)
        return s

    yield make
    for s in sinks:
        s.stop()


@pytest.fixture
def smtp_factory():
    """smtp_factory(start=True) -> a loopback SmtpRelay (tests/sinks.py)."""
    relays = Relays()
    yield relays
    relays.stop_all()


@pytest.fixture
def run(sql):
    """run(job, as_of=None) -> the run_job response (dict)."""
    def go(job, as_of=None):
        if as_of is None:
            return sql("SELECT run_job(%s)", job)[0][0]
        return sql("SELECT run_job(%s, %s::timestamptz)", job, as_of)[0][0]
    return go


@pytest.fixture
def setting(sql):
    def go(**values):
        for k, v in values.items():
            sql("INSERT INTO app_settings (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", k, str(v))
    return go


@pytest.fixture
def queue(sql):
    """queue(channel, recipient, n=1) -> ids of the new outbox rows, oldest due first."""
    counter = iter(range(10 ** 9))

    def go(channel, recipient, n=1, template="note"):
        ids = []
        for _ in range(n):
            i = next(counter)
            ids.append(sql(
                "INSERT INTO notifications (channel, recipient, template, payload, dedupe_key, next_attempt_at) "
                "VALUES (%s, %s, %s, %s, %s, now() - interval '1 hour' + %s * interval '1 ms') RETURNING id::text",
                channel, recipient, template, json.dumps({"n": i}), f"fault:{i}:{time.monotonic_ns()}", i)[0][0])
        return ids
    return go
