"""Which fields a person enters, written once.

The customer form, ``customer_create``/``customer_update``, the customer import and the first
columns of the customer export take ``EDITABLE_FIELDS``; the source forms and the imports of
credit reports and statements take ``SOURCE_FIELDS``. How each field is read from a file (its
header, parser and Chinese aliases) is ``customers.exchange.kinds``, which refuses to load if a
field here has no column there. Nothing here imports anything: every layer of the app may use it.
"""

# What a person may set on a customer. Tier and score belong to grading; owner and team change
# only through customer_update's ``owner`` argument (the import: its "Relationship manager"
# column), so a forged POST of those fields is ignored.
EDITABLE_FIELDS = (
    "name",
    "credit_code",
    "industry",
    "registered_capital",
    "industry_position",
    "credit_rating",
    "status",
)

# What a person enters for each kind of source (customers.services.intake.SOURCE_MODELS), in the order
# it is shown. The form adds where the figures came from; the import adds the customer's credit
# code and records the source as "import".
SOURCE_FIELDS = {
    "credit_report": ("as_of", "bureau", "rating", "overdue_count", "overdue_amount", "outstanding_debt", "litigation"),
    "financial_statement": (
        "as_of",
        "period",
        "revenue",
        "net_profit",
        "total_assets",
        "total_liabilities",
        "current_assets",
        "current_liabilities",
    ),
    "funding_need": ("as_of", "project_amount", "purpose", "term_months"),
    "cooperation_record": ("as_of", "kind", "description", "amount"),
}
