"""The funnel pages in Simplified Chinese, for a user who chose Chinese: the stage names, the
headings and the gates' explanations come from the zh_Hans catalogue, not in English."""

import pytest
from django.urls import reverse

from funnel.models import Deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def zh_client(client, rm1):
    client.force_login(rm1)
    client.post(reverse("language"), {"language": "zh-hans"})
    return client


def test_board_columns_are_in_chinese(zh_client, deal):
    response = zh_client.get(reverse("funnel:board"))
    html = response.content.decode()
    assert response.status_code == 200
    for stage in ("潜在客户识别", "初步评估", "尽职调查", "已审批", "已放款", "已流失"):
        assert stage in html
    assert '<h1 class="h3 mb-0 me-auto">项目看板</h1>' in html
    assert "新建融资项目" in html
    assert "本阶段已停留 0 天" in html  # the card, rendered in Python (ngettext)
    assert "Prospect identified" not in html
    assert "Due diligence" not in html
    assert "Pipeline" not in html


def test_deal_page_is_in_chinese(zh_client, deal):
    html = zh_client.get(reverse("funnel:detail", args=[deal.code])).content.decode()
    assert deal.title in html
    assert "变更项目阶段" in html
    assert "尽职调查检查清单" in html
    assert "拟定融资条件" in html
    assert "申请金额（元）" in html
    assert "创建于“潜在客户识别”" in html  # the timeline
    assert "可进入“初步评估”：所需材料已齐备。" in html
    assert "Move this deal" not in html
    assert "Proposed terms" not in html


def test_refused_move_explains_the_gate_in_chinese(zh_client, deal):
    response = zh_client.post(
        reverse("funnel:move", args=[deal.code]), {"to_stage": "approved", "seen_stage": "prospect"}
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert f"“{deal.title}”暂不能变更阶段：" in html
    assert "尽职调查检查清单尚未完成。未完成项：" in html
    assert "已完成实地考察并形成记录" in html  # the checklist item's own Chinese name
    assert "cannot move yet" not in html
    assert "checklist is not complete" not in html
    assert Deal.objects.get(pk=deal.pk).stage == "prospect"


def test_successful_move_confirms_in_chinese(zh_client, deal):
    zh_client.post(reverse("funnel:move", args=[deal.code]), {"to_stage": "preliminary", "seen_stage": "prospect"})
    html = zh_client.get(reverse("funnel:detail", args=[deal.code])).content.decode()
    assert "已变更至“初步评估”。" in html
    assert "Moved to" not in html


def test_deal_list_and_analytics_are_in_chinese(zh_client, deal):
    listing = zh_client.get(reverse("funnel:list")).content.decode()
    assert '<h1 class="h3 mb-0 me-auto">融资项目</h1>' in listing
    assert "1 个项目" in listing
    assert "预计成交日期" in listing
    assert "Expected close" not in listing

    analytics = zh_client.get(reverse("funnel:analytics")).content.decode()
    assert '<h1 class="h3 mb-0 me-auto">漏斗分析</h1>' in analytics
    assert "您的客户" in analytics
    assert "Funnel analytics" not in analytics
