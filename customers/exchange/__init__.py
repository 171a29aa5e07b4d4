"""Import and export of customers and their data sources as CSV and XLSX.

- ``cells``: reading a file into rows and a cell into a value (no models, no users)
- ``kinds``: the column spec of each import kind, and who may import which
- ``checking``: validating a file row by row against the database; committing a clean one
  (its first step, ``read_rows``, also reads the repayment import's files)
- ``pending``: uploads waiting for confirmation (kept in the database for their uploader under
  a token, claimed once, purged when expired), the upload form, the upload and confirm steps
  of an import view, and the preview's context — shared with the repayment import
  (``risk.views.imports``)
- ``export``: the filtered customer list as CSV or XLSX, streamed in chunks
"""
