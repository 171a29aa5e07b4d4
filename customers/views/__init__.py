"""The customers' pages, one module per page family:

- ``customers``: the customer list, a customer's page, create and edit, activities, contacts;
- ``grading``: review (re-grade now) and a risk officer's tier override;
- ``overview``: the tier overview and the data-quality list;
- ``exchange``: import (upload → preview → confirm) and export."""
