"""Fictional demo data: teams, the five demo users and N customers with valid credit codes.

Idempotent: every customer is derived from its index with a fixed random seed, so running the
command again creates only what is missing and never changes what a person edited since."""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from crm.models import Team, User
from crm.roles import Role
from customers.credit_code import ALPHABET, make_credit_code
from customers.models import (
    Activity,
    ActivityKind,
    Contact,
    CooperationRecord,
    CreditRating,
    CreditReport,
    Customer,
    CustomerStatus,
    DataSource,
    FinancialStatement,
    FundingNeed,
    GradeReason,
    Industry,
    IndustryPosition,
)
from customers.regrade import regrade
from customers.services import inputs_refresh

DEMO_PASSWORD = "crm-demo-2026"  # noqa: S105 - fictional demo users, printed in README

TEAMS = ["East China Infrastructure", "South China Energy"]

# username, first name, last name, role, team index (None: no team), superuser
USERS = [
    ("admin", "Wei", "Admin", Role.ADMIN, None, True),
    ("manager", "Li", "Na", Role.TEAM_MANAGER, 0, False),
    ("risk", "Zhao", "Min", Role.RISK_OFFICER, None, False),
    ("rm1", "Wang", "Fang", Role.RELATIONSHIP_MANAGER, 0, False),
    ("rm2", "Chen", "Jie", Role.RELATIONSHIP_MANAGER, 0, False),
    ("rm3", "Liu", "Yang", Role.RELATIONSHIP_MANAGER, 1, False),
    ("manager2", "Huang", "Lei", Role.TEAM_MANAGER, 1, False),
]

CITIES = [
    ("上海", "310000"),
    ("北京", "110000"),
    ("深圳", "440300"),
    ("杭州", "330100"),
    ("南京", "320100"),
    ("成都", "510100"),
    ("武汉", "420100"),
    ("西安", "610100"),
    ("苏州", "320500"),
    ("广州", "440100"),
    ("天津", "120000"),
    ("重庆", "500000"),
]
WORDS = [
    "华信",
    "中恒",
    "远航",
    "鼎盛",
    "瑞丰",
    "金石",
    "恒源",
    "东方",
    "宏达",
    "新锐",
    "安泰",
    "博远",
    "长江",
    "海纳",
    "正通",
    "天合",
    "汇能",
    "永盛",
    "嘉禾",
    "同创",
]
INDUSTRY_WORDS = {
    Industry.ENERGY: ["电力", "热电", "能源"],
    Industry.RENEWABLES: ["光伏", "风电", "新能源"],
    Industry.TRANSPORT: ["交通建设", "港口", "轨道交通"],
    Industry.WATER: ["水务", "环保", "水处理"],
    Industry.TELECOM: ["数据中心", "通信网络"],
    Industry.REAL_ESTATE: ["城市开发", "置业"],
    Industry.MANUFACTURING: ["智能制造", "装备制造"],
    Industry.HEALTHCARE: ["医疗投资", "康养"],
    Industry.MINING: ["矿业", "资源"],
    Industry.AGRICULTURE: ["农业发展", "现代农业"],
    Industry.OTHER: ["投资", "实业"],
}
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "涛", "明", "超"]
TITLES = ["财务总监", "总经理", "融资部经理", "董事会秘书", "项目总监"]
PURPOSES = [
    "海上风电场二期建设",
    "污水处理厂扩建",
    "城市轨道交通配套",
    "数据中心一期",
    "光伏电站并网工程",
    "港口码头改造",
]
STATUS_MIX = [CustomerStatus.ACTIVE] * 3 + [CustomerStatus.PROSPECT] * 2 + [CustomerStatus.DORMANT]
RATINGS = [
    CreditRating.AAA,
    CreditRating.AA,
    CreditRating.AA,
    CreditRating.A,
    CreditRating.A,
    CreditRating.BBB,
    CreditRating.BBB,
    CreditRating.BB,
    CreditRating.B,
    "",
]


def demo_customer(index: int, owners: list[User]) -> Customer:
    rng = random.Random(20261126 + index)
    city, division = rng.choice(CITIES)
    industry = rng.choice(list(Industry))
    suffix = rng.choice(["有限公司", "股份有限公司"])
    name = f"{city}{rng.choice(WORDS)}{rng.choice(INDUSTRY_WORDS[industry])}{suffix}"
    # The 9-character organisation code is a bijection of the index (the multiplier is prime to
    # 31), so codes are unique and stable across runs yet look varied.
    n = (index * 7_654_321 + 123_456_789) % 31**9
    org = "".join(ALPHABET[(n // 31**k) % 31] for k in range(9))[::-1]
    # Registered capital: 10 million to 5 billion yuan, log-uniform, rounded to 10,000 yuan.
    capital = Decimal(round(10 ** rng.uniform(7, 9.7), -4)).quantize(Decimal("0.01"))
    owner = owners[index % len(owners)]
    return Customer(
        name=name,
        credit_code=make_credit_code(f"91{division}{org}"),
        industry=industry,
        registered_capital=capital,
        industry_position=rng.choice(list(IndustryPosition)),
        credit_rating=rng.choice(RATINGS),
        owner=owner,
        team_id=owner.team_id,
        status=rng.choice([CustomerStatus.ACTIVE] * 3 + [CustomerStatus.PROSPECT] * 2 + [CustomerStatus.DORMANT]),
    )


def demo_sources(customer: Customer, entered_by: User, rng: random.Random) -> list:
    """Plausible data-source rows for one customer; about one in eight lacks a statement or cooperation record, so
    the demo shows Unrated customers with their missing inputs named."""
    today = date.today()
    capital = customer.registered_capital
    assets = (capital * Decimal(rng.uniform(2, 6))).quantize(Decimal("0.01"))
    leverage = Decimal(rng.triangular(0.3, 0.95, 0.58))
    current_liabilities = (assets * Decimal(rng.uniform(0.1, 0.3))).quantize(Decimal("0.01"))
    common = {"customer": customer, "entered_by": entered_by, "source": DataSource.MANUAL}
    rows = [
        CreditReport(
            **common,
            as_of=today - timedelta(days=rng.randrange(10, 420)),
            rating=rng.choice(RATINGS[:-1]),
            overdue_count=rng.choice([0, 0, 0, 0, 1, 2, 4]),
            outstanding_debt=(assets * leverage * Decimal("0.6")).quantize(Decimal("0.01")),
            litigation=rng.random() < 0.08,
        ),
        FundingNeed(
            **common,
            as_of=today - timedelta(days=rng.randrange(5, 200)),
            project_amount=Decimal(round(10 ** rng.uniform(7, 9.5), -4)).quantize(Decimal("0.01")),
            purpose=rng.choice(PURPOSES),
            term_months=rng.choice([36, 60, 84, 120, 180]),
        ),
    ]
    if rng.random() < 0.95:
        rows.append(
            FinancialStatement(
                **common,
                as_of=date(today.year - 1, 12, 31),
                revenue=(assets * Decimal(rng.uniform(0.2, 0.9))).quantize(Decimal("0.01")),
                net_profit=(assets * Decimal(rng.uniform(-0.02, 0.08))).quantize(Decimal("0.01")),
                total_assets=assets,
                total_liabilities=(assets * leverage).quantize(Decimal("0.01")),
                current_assets=(current_liabilities * Decimal(rng.uniform(0.7, 2.2))).quantize(Decimal("0.01")),
                current_liabilities=current_liabilities,
            )
        )
    if rng.random() < 0.93:
        rows.append(
            CooperationRecord(
                **common,
                as_of=today - timedelta(days=rng.randrange(60, 3000)),
                kind=rng.choice(["loan", "advisory", "deposit"]),
                description=rng.choice(["流动资金贷款", "项目融资顾问", "结算与存款", "银团贷款参与"]),
            )
        )
    return rows


class Command(BaseCommand):
    help = "Create fictional demo data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=200, help="how many customers (default 200)")

    def seed_sources(self, batch: list[Customer], users: dict) -> None:
        """Sources for the customers that have none yet, then one re-grade of the portfolio."""
        fresh = Customer.objects.filter(
            credit_code__in=[c.credit_code for c in batch], credit_reports__isnull=True
        ).select_related("owner")
        rows, touched = [], []
        for customer in fresh.iterator(chunk_size=2000):
            rows += demo_sources(customer, customer.owner, random.Random(customer.credit_code))
            touched.append(customer.pk)
        for model in (CreditReport, FinancialStatement, FundingNeed, CooperationRecord):
            model.objects.bulk_create([r for r in rows if isinstance(r, model)], batch_size=2000)
        inputs_refresh(customer_ids=touched)
        regrade(reason=GradeReason.SCHEDULED)

    @transaction.atomic
    def handle(self, *args, customers: int, **options):
        teams = [Team.objects.get_or_create(name=name)[0] for name in TEAMS]
        users = {}
        for username, first, last, role, team, superuser in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                    "team": teams[team] if team is not None else None,
                    "is_staff": superuser,
                    "is_superuser": superuser,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
                user.groups.add(Group.objects.get(name=role.value))
            users[username] = user

        owners = [users["rm1"], users["rm2"], users["rm3"]]
        batch = [demo_customer(i, owners) for i in range(customers)]
        before = Customer.objects.count()
        existing = set(
            Customer.objects.filter(credit_code__in=[c.credit_code for c in batch]).values_list(
                "credit_code", flat=True
            )
        )
        for start in range(0, len(batch), 2000):
            chunk = [c for c in batch[start : start + 2000] if c.credit_code not in existing]
            bulk_create_with_history(chunk, Customer, batch_size=2000, default_user=users["admin"])
        created = Customer.objects.count() - before

        self.seed_sources(batch, users)

        # A few contacts and log entries on the first customers, once.
        rng = random.Random(7)
        first = Customer.objects.filter(credit_code__in=[c.credit_code for c in batch[:30]])
        for customer in first.filter(contacts__isnull=True):
            Contact.objects.create(
                customer=customer,
                name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN]),
                title=rng.choice(TITLES),
                phone=f"+86 138 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}",
                is_primary=True,
            )
            Activity.objects.create(
                customer=customer,
                author=customer.owner,
                kind=ActivityKind.MEETING,
                body="First meeting: discussed the project pipeline and financing needs.",
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {Customer.objects.count()} customers ({created} new), "
                f"users {', '.join(users)} (password {DEMO_PASSWORD!r})."
            )
        )
