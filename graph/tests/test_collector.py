"""collector.py: the cyclic collector is held off while Graph answers are decoded and mapped, and comes back."""
import gc
import json
import threading

import pytest

from graph import collector, mail
from graph.client import _json_or_none
from graph.tests.test_mail import FULL_MESSAGE


class _Answer:
    """What _json_or_none reads of a requests.Response."""

    def __init__(self, content):
        self.content = content


@pytest.fixture
def eager_collector():
    """A collection after every 10 new containers (instead of 700), collections recorded: without a pause, decoding
    a page of 2,000 messages would start hundreds."""
    thresholds, started = gc.get_threshold(), []

    def record(phase, info):
        if phase == 'start':
            started.append(info['generation'])
    gc.set_threshold(10, 10, 10)
    gc.callbacks.append(record)
    try:
        yield started
    finally:
        gc.callbacks.remove(record)
        gc.set_threshold(*thresholds)


def _page(count):
    return [dict(FULL_MESSAGE, id='AAkALgAA%06d' % number) for number in range(count)]


def test_a_page_is_decoded_and_mapped_without_a_collection(eager_collector):
    body = json.dumps({'value': _page(2000)}).encode()
    eager_collector.clear()  # the test's own setup collected
    decoded = _json_or_none(_Answer(body))
    delta = mail.delta_values(decoded['value'])
    assert len(delta.entries) == 2000
    # one collection when each of the two pauses ends (the containers built meanwhile are looked at once); which
    # generation it is depends on the counts the setup left, so only the number is asserted
    assert len(eager_collector) <= 3, eager_collector
    assert gc.isenabled()
    # the same work with the collector on collects all the time: the assertion above can fail
    [mail.message_values(item) for item in json.loads(body)['value']]
    assert len(eager_collector) > 100


def test_pauses_of_several_threads_nest_and_an_error_resumes():
    inside, release = threading.Event(), threading.Event()

    def other_thread():
        with collector.paused():
            inside.set()
            release.wait(5)
    thread = threading.Thread(target=other_thread)
    thread.start()
    inside.wait(5)
    with pytest.raises(ValueError), collector.paused():
        assert not gc.isenabled()
        raise ValueError('mapping failed')
    assert not gc.isenabled()  # the other thread's pause goes on
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off():
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
