"""A Dask ``LocalCluster`` of two worker processes (one thread each) shared by a module's tests, as a user's
scheduler address: the tests pass it as ``scheduler`` so that no test pays for starting workers again."""

import pytest


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        yield cluster
    finally:
        cluster.close()
