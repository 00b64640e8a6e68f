"""Reading a store's points with plain SQL in tests: each point names its series
(``latest_metrics``), which holds its run and key (schema revision 0012)."""

#: every stored point ``p`` with its series ``l`` (``l.run_id``, ``l.key``)
RUN_POINTS = "metrics p JOIN latest_metrics l USING (series_id)"
