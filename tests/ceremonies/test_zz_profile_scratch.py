import cProfile, json, pstats, io, os, time
import pytest
from django.test import Client
from .test_flows import sign_in
from .test_query_budget import store  # noqa

@pytest.mark.django_db
def test_profile(store, client, muni_a, pki, taro_record):
    code = muni_a.code
    sign_in(client, code, "identify", pki.taro)
    browser, reader = Client(), Client()
    assert browser.get(f"/{code}/login/").status_code == 200
    i = [0]
    steps = {"open": 0.0, "fetch": 0.0, "complete": 0.0, "finish": 0.0, "sign": 0.0}
    def timed(name, f):
        t = time.process_time(); r = f(); steps[name] += time.process_time() - t; return r
    def one():
        i[0] += 1
        a = dict(REMOTE_ADDR=f"10.1.{i[0] // 250}.{i[0] % 250}")
        r = timed("open", lambda: browser.post(f"/{code}/ceremony/start/", {"purpose": "login"}, **a))
        cid = r["Location"].rstrip("/").rsplit("/", 1)[1]
        f = timed("fetch", lambda: reader.get(f"/{code}/api/ceremonies/{cid}", **a))
        body = timed("sign", lambda: json.dumps(pki.taro.answer(f.json())))
        c = timed("complete", lambda: reader.post(f"/{code}/api/ceremonies/{cid}/complete", body, content_type="application/json", **a))
        assert c.status_code == 200
        assert timed("finish", lambda: browser.get(f"/{code}/ceremony/{cid}/finish/", **a)).status_code == 302
    for _ in range(5): one()
    for k in steps: steps[k] = 0.0
    n = 60
    t = time.process_time()
    for _ in range(n): one()
    print(store, "CPU ms per sign-in:", (time.process_time() - t) / n * 1000, {k: round(v / n * 1000, 2) for k, v in steps.items()})
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n): one()
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(90)
    open(f"/tmp/opsprof/signin-{store}.txt", "w").write(s.getvalue())
