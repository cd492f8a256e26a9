"""Scaling out: joblib workers get their share of threads, and the Dask backend works."""
import os
import threading
import uuid

import joblib
import numpy as np
import pytest
import torch

from helpers import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter
from skdynaguide.training.network import DynaGuideNet


class RecordingNet:
    """A ``network`` factory that notes where and with how many torch threads it runs."""

    def __init__(self, folder):
        self.folder = str(folder)

    def __call__(self, n_features, n_clusters):
        try:
            from distributed import get_worker

            in_dask = get_worker() is not None
        except (ImportError, ValueError):
            in_dask = False
        record = "|".join(map(str, [os.getpid(), threading.current_thread().name,
                                    torch.get_num_threads(), in_dask]))
        with open(os.path.join(self.folder, uuid.uuid4().hex), "w") as handle:
            handle.write(record)
        return DynaGuideNet(n_features, n_clusters)


def records(folder):
    rows = [path.read_text().split("|") for path in folder.iterdir()]
    return [dict(pid=int(p), thread=t, threads=int(n), dask=d == "True") for p, t, n, d in rows]


def images():
    return [make_quadrants(16, 16)[0], make_quadrants(20, 16)[0], make_quadrants(16, 24)[0]]


@pytest.mark.slow  # starts worker processes
def test_process_workers_take_their_share_of_threads(tmp_path):
    before = torch.get_num_threads()
    DynaGuideSegmenter(network=RecordingNet(tmp_path), n_jobs=2, **FAST).fit(images())
    rows = records(tmp_path)
    assert len(rows) == 3
    assert all(row["pid"] != os.getpid() for row in rows)  # loky worker processes
    assert {row["threads"] for row in rows} == {max(1, (os.cpu_count() or 1) // 2)}
    assert torch.get_num_threads() == before


def test_thread_workers_share_this_process_without_racing(tmp_path):
    before = torch.get_num_threads()
    with joblib.parallel_backend("threading"):
        DynaGuideSegmenter(network=RecordingNet(tmp_path), n_jobs=2, **FAST).fit(images())
    rows = records(tmp_path)
    assert all(row["pid"] == os.getpid() for row in rows)
    assert {row["threads"] for row in rows} == {max(1, (os.cpu_count() or 1) // 2)}
    assert torch.get_num_threads() == before  # restored once, after all the jobs


@pytest.mark.slow  # starts a Dask cluster
def test_dask_backend_gives_the_serial_result(tmp_path):
    from distributed import Client

    network = RecordingNet(tmp_path)
    serial = DynaGuideSegmenter(network=network, **FAST).fit_predict(images())
    for path in tmp_path.iterdir():
        path.unlink()
    with Client(processes=False, n_workers=1, threads_per_worker=2,
                dashboard_address=None) as client, joblib.parallel_backend("dask"):
        seg = DynaGuideSegmenter(network=network, n_jobs=-1, **FAST)
        parallel = seg.fit_predict(images())
        batched = DynaGuideSegmenter(n_jobs=-1, batch_size=2, **FAST).fit_predict(images())
        assert client.status == "running"
    rows = records(tmp_path)
    assert len(rows) == 3 and all(row["dask"] for row in rows)  # ran on the Dask worker
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(DynaGuideSegmenter(**FAST).fit_predict(images()), batched):
        np.testing.assert_array_equal(a, b)
