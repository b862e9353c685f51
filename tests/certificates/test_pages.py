"""The resident's pages (card sign-in required), the public verification page (genuine,
revoked, unknown, malformed, an uploaded PDF compared byte for byte) and the staff log."""

import io

from madoguchi.certificates.models import Certificate
from madoguchi.municipalities.tenancy import tenant
from madoguchi.residents.models import ResidentRecord
from tests.applications.test_pages import signed_in
from tests.conftest import sign_in

from .conftest import flat, pdf_text


def test_a_resident_issues_downloads_and_lists_a_certificate(client, muni_a, taro, hanako):
    base = f"/{muni_a.code}/certificates/"
    anonymous = client.get(base)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"] and "next=" in anonymous["Location"]
    signed_in(client, muni_a, taro)
    page = client.get(base).content.decode()
    assert "住民票の写し（300円）" in page and "個人番号（マイナンバー）を載せた住民票は、オンラインでは交付しません" in page
    bad = client.post(base, {"scope": "person", "purpose": "x" * 101})
    body = bad.content.decode()
    assert bad.status_code == 400 and "証明書の種類: 証明書の種類を選んでください。" in body
    assert '<a href="#id_kind_0">' in body and "使いみち・提出先は100文字以内で入力してください。" in body
    response = client.post(base, {"kind": "resident_copy", "scope": "person", "household_head": "on"})
    assert response.status_code == 302
    with tenant(muni_a):
        certificate = Certificate.objects.get()
    assert response["Location"].endswith(f"/certificates/{certificate.issue_number}/")
    issued = client.get(response["Location"]).content.decode()
    assert "住民票の写しができました" in issued and certificate.issue_number in issued and "300円" in issued
    pdf = client.get(f"{base}{certificate.issue_number}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == f'attachment; filename="certificate-{certificate.issue_number}.pdf"'
    data = b"".join(pdf.streaming_content)
    assert flat(taro.verified_name) in pdf_text(data)
    assert certificate.issue_number in client.get(base).content.decode()  # listed as issued

    other = client.__class__()
    signed_in(other, muni_a, hanako)
    assert other.get(f"{base}{certificate.issue_number}/pdf/").status_code == 404  # not hers: no hint
    assert other.get(f"{base}{certificate.issue_number}/").status_code == 404
    assert other.get(f"{base}..%2F..%2Fetc/pdf/").status_code == 404


def test_a_resident_under_support_measure_is_told_to_visit(client, muni_a, taro):
    with tenant(muni_a):
        ResidentRecord.objects.filter(resident_number="100001").update(support_measure=True)
    signed_in(client, muni_a, taro)
    response = client.post(f"/{muni_a.code}/certificates/", {"kind": "resident_copy", "scope": "person"})
    assert response.status_code == 400 and "窓口へお越しください" in response.content.decode()


def test_the_verification_page_says_genuine_revoked_or_unknown_without_the_content(
        client, muni_a, taro, admin_a, muni_b):
    from madoguchi.certificates import services

    with tenant(muni_a):
        certificate = services.issue(taro, kind="resident_copy")
        data = services.read(certificate)
    url = f"/{muni_a.code}/verify/{certificate.issue_number}/"
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and "窓口市が発行した本物の証明書です" in body and certificate.sha256 in body
    assert taro.verified_name not in body and "本町" not in body  # never the content
    lower = client.get(f"/{muni_a.code}/verify/{certificate.issue_number.lower().replace('-', '')}/")
    assert lower.status_code == 200  # typed from paper
    assert client.get(f"/{muni_b.code}/verify/{certificate.issue_number}/").status_code == 404  # another city's
    missing = client.get(f"/{muni_a.code}/verify/0000-0000-0000-0000/")
    assert missing.status_code == 404 and "見つかりません" in missing.content.decode()
    assert client.get(f"/{muni_a.code}/verify/%3Cscript%3E/").status_code == 404
    assert "&lt;script&gt;" in client.get(f"/{muni_a.code}/verify/%3Cscript%3E/").content.decode()
    start = client.get(f"/{muni_a.code}/verify/", {"number": "not a number"})
    assert start.status_code == 400 and "4文字×4組" in start.content.decode()
    assert client.get(f"/{muni_a.code}/verify/", {"number": certificate.issue_number})["Location"] == url

    same = client.post(url, {"file": io.BytesIO(data)})
    assert same.status_code == 200 and "1バイトも違いません。電子署名も有効です。" in same.content.decode()
    tampered = data.replace(b"/Author", b"/Autho2", 1) if b"/Author" in data else data[:-10] + b"%%EOF\n\n\n\n\n"
    changed = client.post(url, {"file": io.BytesIO(tampered)})
    assert changed.status_code == 200 and "一致しません" in changed.content.decode()
    junk = client.post(url, {"file": io.BytesIO(b"hello, not a pdf")})
    assert junk.status_code == 400 and "署名付きのPDFではありません" in junk.content.decode()
    assert client.post(url, {}).status_code == 400

    assert sign_in(client, muni_a, *admin_a).status_code == 302
    log = client.get(f"/{muni_a.code}/staff/certificates/").content.decode()
    assert certificate.issue_number in log and "100001" in log
    empty = client.post(f"/{muni_a.code}/staff/certificates/{certificate.issue_number}/revoke/", {"reason": ""})
    assert empty.status_code == 400 and "取り消す理由を200文字以内で入力してください。" in empty.content.decode()
    assert client.post(f"/{muni_a.code}/staff/certificates/{certificate.issue_number}/revoke/",
                       {"reason": "住所の記載誤りを修正したため"}).status_code == 302
    revoked = client.get(url).content.decode()
    assert "この証明書は取り消されています" in revoked and "本物の証明書です" not in revoked
    assert client.get(f"/{muni_a.code}/staff/certificates/", {"number": "bad"}).status_code == 400


def test_staff_of_another_municipality_and_viewers_see_no_log(client, muni_a, taro, admin_b, viewer_a):
    from madoguchi.certificates import services

    with tenant(muni_a):
        certificate = services.issue(taro, kind="resident_copy")
    assert sign_in(client, muni_a, *viewer_a).status_code == 302
    assert client.get(f"/{muni_a.code}/staff/certificates/").status_code == 403
    assert client.post(f"/{muni_a.code}/staff/certificates/{certificate.issue_number}/revoke/",
                       {"reason": "x"}).status_code == 403
    with tenant(muni_a):
        assert Certificate.objects.get().revoked_at is None


def test_the_kiosk_issues_shows_the_pdf_in_a_frame_and_signs_out(client, muni_a, taro, hanako):
    start = client.get(f"/{muni_a.code}/kiosk/")
    assert start.status_code == 200 and "はじめる（カードで本人確認）" in start.content.decode()
    assert f"next=%2F{muni_a.code}%2Fkiosk%2Fcertificates%2F" in start.content.decode()
    choose = f"/{muni_a.code}/kiosk/certificates/"
    assert client.get(choose).status_code == 302  # the card first
    signed_in(client, muni_a, taro)
    page = client.get(choose).content.decode()
    assert "証明書を選んでください" in page and "操作がないまま90秒たつと、自動で終了します。" in page
    assert client.post(choose, {"kind": "koseki"}).status_code == 400
    response = client.post(choose, {"kind": "resident_copy", "scope": "household"})
    assert response.status_code == 302
    with tenant(muni_a):
        certificate = Certificate.objects.get()
    printed = client.get(response["Location"]).content.decode()
    assert "住民票の写しができました" in printed and f'data-pdf="/{muni_a.code}/certificates/{certificate.issue_number}/pdf/?inline=1"' in printed
    inline = client.get(f"/{muni_a.code}/certificates/{certificate.issue_number}/pdf/", {"inline": "1"})
    assert inline.status_code == 200 and inline["Content-Disposition"].startswith("inline")
    assert inline["X-Frame-Options"] == "SAMEORIGIN" and "frame-ancestors 'self'" in inline["Content-Security-Policy"]
    attachment = client.get(f"/{muni_a.code}/certificates/{certificate.issue_number}/pdf/")
    assert attachment["X-Frame-Options"] == "SAMEORIGIN" and "frame-ancestors 'none'" in attachment["Content-Security-Policy"]
    assert client.post(f"/{muni_a.code}/kiosk/end/").status_code == 302
    assert client.get(choose).status_code == 302  # signed out: the next resident starts afresh

    signed_in(client, muni_a, hanako)
    refused = client.post(choose, {"kind": "resident_copy", "scope": "everyone"})
    assert refused.status_code == 400 and "本人のみか世帯全員かを選んでください。" in refused.content.decode()
