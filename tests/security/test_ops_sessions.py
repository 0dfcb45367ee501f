"""/ops sessions are revocable (issue 20 point 6): logout ends the session server-side (a copied cookie
is refused after), `mediabuy-sync ops end-sessions` ends them all, and the cookie is Secure whenever the
public base URL is https — through the real gunicorn."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from support.stack import BIN, start_web

TOKEN = os.environ["MEDIABUY_ADMIN_TOKEN"]


def login(base: str) -> requests.Response:
    return requests.post(base + "/ops/login", data={"token": TOKEN}, allow_redirects=False, timeout=10)


def page(base: str, cookie: str) -> int:
    return requests.get(base + "/ops/agents", cookies={"mediabuy_ops": cookie}, allow_redirects=False,
                        timeout=10).status_code


def test_logout_ends_the_session_for_good_even_for_a_copy_of_the_cookie(stack):
    base = stack["base_url"]
    answer = login(base)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/ops")
    cookie = answer.cookies["mediabuy_ops"]
    other = login(base).cookies["mediabuy_ops"]
    assert page(base, cookie) == 200 and page(base, other) == 200

    out = requests.post(base + "/ops/logout", cookies={"mediabuy_ops": cookie}, allow_redirects=False, timeout=10)
    assert out.status_code == 303

    assert page(base, cookie) == 303  # the copy kept by whoever had it: refused
    assert page(base, other) == 200  # another session lives on


def test_an_operator_ends_every_session(stack):
    base = stack["base_url"]
    cookies = [login(base).cookies["mediabuy_ops"] for _ in range(2)]
    assert [page(base, c) for c in cookies] == [200, 200]
    run = subprocess.run([str(BIN / "mediabuy-sync"), "ops", "end-sessions"], env=os.environ, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert [page(base, c) for c in cookies] == [303, 303]


@pytest.fixture(scope="module")
def https_web(stack):
    proc, base = start_web({**stack["env"], "MEDIABUY_PUBLIC_BASE_URL": "https://hooks.example.com"}, name="web-https")
    yield base
    proc.stop()


def test_the_cookie_is_secure_whenever_the_public_url_is_https(stack, https_web):
    assert "secure" in login(https_web).headers["Set-Cookie"].lower().split("; ")
    assert "secure" not in login(stack["base_url"]).headers["Set-Cookie"].lower().split("; ")  # http: a dev setup
