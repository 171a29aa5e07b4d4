"""The funnel's pages, one module per page or action:

- ``board``: the board (columns of open deals, filters);
- ``move``: moving a deal — the move form and the board's drop target are one view;
- ``deals``: a deal's page, create, edit, checklist and documents;
- ``exceptions``: requesting and deciding an exception to the tier policy;
- ``lists``: the deal list and its export;
- ``analytics``: screening efficiency from the rollup."""
