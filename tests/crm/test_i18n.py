import pytest
from django.urls import reverse

from crm.models import User

pytestmark = pytest.mark.django_db


def test_browser_language_picks_chinese(client, rm1):
    client.force_login(rm1)
    page = client.get(reverse("customers:list"), headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<h1 class="h3 mb-0 me-auto">客户</h1>' in page.content.decode()


def test_language_switch_is_remembered_on_the_user(client, rm1):
    client.force_login(rm1)
    response = client.post(reverse("language"), {"language": "zh-hans", "next": reverse("customers:list")})
    assert response.status_code == 302
    assert User.objects.get(pk=rm1.pk).language == "zh-hans"

    # A new browser with an English Accept-Language still gets the saved choice.
    other = client.__class__()
    other.force_login(rm1)
    page = other.get(reverse("customers:list"), headers={"Accept-Language": "en"}).content.decode()
    assert "新建客户" in page


def test_language_switch_refuses_unknown_language_and_get(client, rm1):
    client.force_login(rm1)
    assert client.get(reverse("language")).status_code == 405
    client.post(reverse("language"), {"language": "xx"})
    assert User.objects.get(pk=rm1.pk).language == ""


def test_error_messages_are_translated(client, rm1):
    client.force_login(rm1)
    client.post(reverse("language"), {"language": "zh-hans"})
    response = client.post(reverse("customers:create"), {"credit_code": "123"})
    html = response.content.decode()
    assert "统一社会信用代码" in html
    assert "Nothing was saved" not in html
