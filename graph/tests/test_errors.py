"""errors.classify and Retry-After parsing: pure, many edge cases."""
import email.utils
import time

import pytest

from graph import errors
from graph.errors import (
    AccessDenied,
    AuthExpired,
    BadResponse,
    GraphError,
    NotFound,
    RequestTooLarge,
    SyncStateExpired,
    Throttled,
    Transient,
    classify,
    parse_retry_after,
)


def body(code, message='msg', inner=None):
    error = {'code': code, 'message': message}
    if inner is not None:
        error['innerError'] = inner
    return {'error': error}


@pytest.mark.parametrize('status, expected', [
    (401, AuthExpired), (403, AccessDenied), (404, NotFound), (413, RequestTooLarge), (410, SyncStateExpired),
    (429, Throttled), (503, Throttled), (500, Transient), (502, Transient), (504, Transient), (507, Transient),
    (400, GraphError), (409, GraphError), (412, GraphError),
])
def test_status_mapping(status, expected):
    error = classify(status, body('Something'), {})
    assert type(error) is expected
    assert error.status == status
    assert isinstance(error, GraphError)


def test_every_class_is_a_graph_error():
    for cls in (AuthExpired, errors.AuthInvalid, errors.FlowMismatch, AccessDenied, Throttled, SyncStateExpired,
                NotFound, Transient, BadResponse, RequestTooLarge):
        assert issubclass(cls, GraphError)


@pytest.mark.parametrize('code', ['syncStateNotFound', 'SyncStateNotFound', 'SYNCSTATENOTFOUND', 'resyncRequired',
                                  'ResyncRequired', 'SyncStateInvalid', 'syncstateinvalid'])
@pytest.mark.parametrize('status', [400, 404, 410, 500])
def test_sync_state_codes_any_status_any_case(code, status):
    error = classify(status, body(code), {})
    assert isinstance(error, SyncStateExpired)
    assert error.code == code


def test_sync_state_code_nested_in_inner_error():
    nested = body('generalException', 'outer', {'code': 'x', 'innerError': {'code': 'resyncRequired'}})
    assert isinstance(classify(400, nested, {}), SyncStateExpired)


def test_sync_state_code_in_lowercase_innererror_key():
    nested = {'error': {'code': 'BadRequest', 'message': 'm', 'innererror': {'code': 'SyncStateInvalid'}}}
    assert isinstance(classify(400, nested, {}), SyncStateExpired)


def test_410_without_body_is_sync_state_expired():
    assert isinstance(classify(410, None, {}), SyncStateExpired)


def test_badly_formed_token_400_is_sync_state_expired():
    error = classify(400, body('ErrorInvalidSyncStateData', 'Badly formed token.'), {})
    assert isinstance(error, SyncStateExpired)
    assert isinstance(classify(400, body('BadRequest', 'other', {'message': 'BADLY FORMED TOKEN'}), {}),
                      SyncStateExpired)


def test_other_400_is_plain_graph_error():
    error = classify(400, body('InefficientFilter', 'The restriction or sort order is too complex'), {})
    assert type(error) is GraphError
    assert error.code == 'InefficientFilter'


def test_deep_nesting_is_bounded():
    node = {'code': 'resyncRequired'}
    for _ in range(5000):
        node = {'code': 'x', 'innerError': node}
    error = classify(400, {'error': node}, {})
    assert type(error) is GraphError  # the code lies beyond the bounded walk; no RecursionError either


@pytest.mark.parametrize('hostile', [
    None, [], 'text', 42, {'error': 'string'}, {'error': None}, {'error': {'code': 5, 'message': ['x']}},
    {'error': {'innerError': 'x'}}, {'error': {'code': None, 'innerError': {'code': {'nested': 1}}}},
    {'error': {1: 2}},
])
def test_hostile_bodies_never_raise(hostile):
    error = classify(404, hostile, {'Retry-After': 'garbage'})
    assert isinstance(error, NotFound)
    assert 'Graph HTTP 404' in error.message


@pytest.mark.parametrize('value, expected', [
    ('2', 2.0), ('2.128', 2.128), (' 7 ', 7.0), ('0', 0.0), ('-3', 0.0), ('0.5', 0.5), (3, 3.0),
    (None, None), ('', None), ('soon', None), ('nan', None), ('inf', None),
])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    now = time.time()
    header = email.utils.formatdate(now + 120, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(120, abs=1.5)
    past = email.utils.formatdate(now - 120, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


@pytest.mark.parametrize('headers', [{'Retry-After': '2.128'}, {'retry-after': '2.128'}, {'RETRY-AFTER': '2.128'}])
def test_throttled_reads_retry_after_case_insensitively(headers):
    error = classify(429, body('TooManyRequests', 'Please retry again later.', {'code': '429'}), headers)
    assert isinstance(error, Throttled)
    assert error.retry_after == 2.128


def test_throttled_without_retry_after():
    assert classify(503, None, None).retry_after is None
    assert classify(429, body('ApplicationThrottled'), {}).retry_after is None


def test_message_is_status_code_and_first_line_only():
    secret_body = body('InvalidAuthenticationToken', 'Access token has expired.\nrequest body: Bearer eyJsecret')
    error = classify(401, secret_body, {'Location': 'https://graph/x?$deltatoken=SECRET'})
    assert error.message == 'Graph HTTP 401 InvalidAuthenticationToken: Access token has expired.'
    assert 'SECRET' not in str(error) and 'eyJ' not in str(error)


def test_message_is_bounded_and_nul_free():
    error = classify(500, body('x', 'A' * 10000 + '\x00'), {})
    assert len(error.message) <= errors.MAX_MESSAGE_LENGTH
    assert '\x00' not in classify(500, body('x\x00y', 'm\x00'), {}).message


def test_outer_code_is_reported():
    error = classify(404, body('ErrorItemNotFound', 'gone', {'code': 'inner'}), {})
    assert error.code == 'ErrorItemNotFound'


def test_auth_invalid_attributes():
    error = errors.AuthInvalid('invalid_grant', 'invalid_grant: AADSTS70008: expired', error_codes=[70008])
    assert error.kind == 'invalid_grant' and error.error_codes == [70008] and error.code == 'invalid_grant'
    mismatch = errors.FlowMismatch()
    assert isinstance(mismatch, errors.AuthInvalid) and mismatch.kind == 'other'


def test_throttled_keeps_retry_after_attribute():
    assert Throttled('x', status=429, retry_after=12.5).retry_after == 12.5
