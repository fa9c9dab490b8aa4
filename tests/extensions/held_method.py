"""A toy PTQ method for tests/test_workflow.py: nearest rounding, held while the file named by
LSTMPTQ_TEST_HOLD exists, so that a test can stop a PTQ cell mid-work whatever the machine's speed."""

import logging
import os
import time


def held(qmodel, family, batches):
    hold = os.environ.get("LSTMPTQ_TEST_HOLD")
    logging.getLogger(__name__).info("held")
    while hold and os.path.exists(hold):
        time.sleep(0.05)
