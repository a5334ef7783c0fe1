"""Auth: login form, throttling, CSRF, health, language, property switch."""



def test_login_page_has_the_contract_fields(client_as):
    page = client_as().get("/login").get_data(as_text=True)
    for name in ("username", "password", "csrf_token"):
        assert f'name="{name}"' in page


def test_every_demo_user_logs_in_and_lands_on_the_dashboard(client_as):
    from seeds.demo import DEMO_USERS
    for username, _, _ in DEMO_USERS + [("regional", "", "")]:
        c = client_as(username)
        r = c.get("/admin/")
        assert r.status_code == 200, username
        assert "工作台" in r.get_data(as_text=True)


def test_wrong_password_is_refused_in_chinese(client_as):
    c = client_as()
    r = c.login("clerk", "wrong")
    assert r.status_code == 401
    assert "用户名或密码错误" in r.get_data(as_text=True)
    assert c.get("/admin/unit/").status_code == 302


def test_five_failures_lock_that_account_from_that_address(client_as):
    c = client_as()
    for _ in range(5):
        assert c.login("clerk", "wrong").status_code == 401
    r = c.login("clerk", "demo1234")  # even the right password waits now
    assert r.status_code == 429
    assert "15分钟" in r.get_data(as_text=True)
    assert client_as().login("supervisor").status_code == 302  # other accounts are not affected


def test_post_without_csrf_token_is_refused(client_as):
    c = client_as("it")
    r = c.post("/admin/department/new/", data={"name": "x", "kind": "other"}, csrf=False)
    assert r.status_code == 400


def test_anonymous_is_sent_to_login(client_as):
    r = client_as().get("/admin/repair_order/" if False else "/admin/unit/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_healthz_reports_the_database(client_as):
    r = client_as().get("/healthz")
    assert r.status_code == 200 and r.json["database"] == "ok"


def test_english_on_request(client_as):
    c = client_as("clerk")
    c.get("/language/en")
    assert "Dashboard" in c.get("/admin/").get_data(as_text=True)


def test_logout_needs_post_and_ends_the_session(client_as):
    c = client_as("clerk")
    assert c.get("/logout").status_code == 405
    assert c.post("/logout").status_code == 302
    assert c.get("/admin/unit/").status_code == 302


def test_session_cookie_is_httponly(client_as):
    c = client_as()
    r = c.login("clerk")
    assert "HttpOnly" in r.headers.get("Set-Cookie", "")
