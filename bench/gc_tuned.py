"""The service with the start-up GC tuning proposed in docs/performance.md (for A/B runs of bench/bench.py):

    .venv/bin/python bench/bench.py --app bench.gc_tuned:app
"""

import gc

from service.app import app  # noqa: F401  (imports and builds everything first)

gc.collect()
gc.freeze()  # start-up objects (modules, knowledge, pydantic schemas) are never scanned again
gc.set_threshold(50_000, 20, 100)  # a decoded 1,000-statement prefetch allocates ~60k containers per request
