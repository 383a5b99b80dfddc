"""Governance: what a CDS committee asks of the service. The card ledger (``ledger``: every card shown, by rule,
joined to feedback by card uuid), the per-rule report over it (``report``), the silent-mode replay over a cohort
(``replay``, ``cluster`` for a Dask cluster) and the intervention's source attributes (``attributes``)."""
