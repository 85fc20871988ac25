"""Generated hostile Graph input for the hostile-input tests (a helper module: it holds no test case).

* :func:`malformed_items` -- deterministic malformed Graph message items (wrong types, missing fields, huge
  strings, bad dates, lone surrogates / NUL, unknown ``@odata.type``, odd ``@removed`` markers, non-objects), each
  with the ids it uses, so a test can tell stored rows from skipped ones;
* :data:`WIRE_BODIES` -- whole delta responses that are not what Graph sends (invalid UTF-8, not JSON, wrong
  shapes, links of the wrong type or to another host), served by :mod:`hostile_graph`;
* :data:`XSS_PAYLOADS` -- script injection attempts for message bodies, subjects and sender names. Each one, if it
  ever ran, would set ``top.__xss`` (or call ``alert``), which the browser test checks.
"""
import copy
import random

HOSTILE_PREFIX = 'HOSTILE-'
GARBAGE_VALUES = (
    None, 0, -1, 2 ** 63, -2 ** 63, 1.5e308, True, False, '', ' ', '\x00', [], [1, 'two', None], {}, {'a': {'b': []}},
    'plain string', ['nested', ['deeper', ['deepest']]], {'emailAddress': 'not-an-object'}, 3.14,
    '\ud800', '\udfff\ud800', 'text\x00with\x00nul', '\u202egnp.exe', '\ufeffbom', '🦄' * 10,
)
BAD_DATES = (
    '', ' ', 'yesterday', '2024-13-45T99:99:99Z', '0000-00-00T00:00:00Z', '+275760-09-13T00:00:00Z',
    '9999-12-31T23:59:59.9999999+14:00', '0001-01-01T00:00:00-14:00', '-0001-01-01T00:00:00Z', '2024-02-30T00:00:00Z',
    '1e400', '2024-01-01T00:00:00\x00Z', 'x' * 200, '２０２４-01-01T00:00:00Z', '2024-01-01T25:61:61', 12345, 1e20,
    None, [], {'dateTime': '2024-01-01'}, '\ud800', 'NaN', '2024-W01', '1970-01-01T00:00:00Z',
)
ODATA_TYPES = ('#microsoft.graph.contact', '#microsoft.graph.event', 'message', '', 123, None, [], {},
               ['#microsoft.graph.message'], '#microsoft.graph.message\x00', '#microsoft.graph.eventMessage',
               '#MICROSOFT.GRAPH.MESSAGE', '#microsoft.graph.mailFolder', '#microsoft.graph.message' + 'x' * 5000)
# 1,000 random CJK characters: ~3,000 bytes of UTF-8 that do not compress (a btree index entry holds ~2,700).
_CJK_RNG = random.Random(7)
_RANDOM_CJK = ''.join(chr(_CJK_RNG.randrange(0x4E00, 0x9FFF)) for _n in range(1000))
WEIRD_IDS = (_RANDOM_CJK, None, 123, 1.5, '', ' ', ' lead', 'trail ', 'x\x00y', '\ud800abc', 'a' * 5000, '🦄' * 1024, {'id': 1},
             ['id'], True, "'; DROP TABLE maildesk_message; --", '../../../../etc/passwd', 'ü' * 1024,
             'A' * 1024, '\n', 'id\nwith\nnewlines')
MESSAGE_FIELDS = ('internetMessageId', 'conversationId', 'subject', 'bodyPreview', 'importance', 'isRead', 'isDraft',
                  'flag', 'categories', 'hasAttachments', 'parentFolderId', 'changeKey', 'receivedDateTime',
                  'sentDateTime', 'lastModifiedDateTime', 'from', 'sender', 'toRecipients', 'ccRecipients',
                  'bccRecipients', 'replyTo', '@odata.type', '@odata.etag')
DATE_FIELDS = ('receivedDateTime', 'sentDateTime', 'lastModifiedDateTime')
TEXT_FIELDS = ('internetMessageId', 'conversationId', 'subject', 'bodyPreview', 'changeKey', 'parentFolderId')
RECIPIENT_FIELDS = ('from', 'sender', 'toRecipients', 'ccRecipients', 'bccRecipients', 'replyTo')


def valid_item(index, folder_id='hostile-folder'):
    """A well-formed Graph message item as a delta page carries it (MailDesk's $select)."""
    return {
        '@odata.type': '#microsoft.graph.message',
        '@odata.etag': 'W/"CQAAABYAAAD%06d"' % index,
        'id': '%s%06d' % (HOSTILE_PREFIX, index),
        'lastModifiedDateTime': '2024-05-01T10:00:00Z',
        'changeKey': 'CQAAABYAAAD%06d' % index,
        'categories': ['Blue category'],
        'receivedDateTime': '2024-05-01T09:59:00Z',
        'sentDateTime': '2024-05-01T09:58:00Z',
        'hasAttachments': False,
        'internetMessageId': '<hostile-%d@fabrikam.test>' % index,
        'subject': 'Hostile %d' % index,
        'bodyPreview': 'preview %d' % index,
        'importance': 'normal',
        'parentFolderId': folder_id,
        'conversationId': 'AAQkHOSTILE%06d' % index,
        'isRead': False,
        'isDraft': False,
        'flag': {'flagStatus': 'notFlagged'},
        'from': {'emailAddress': {'name': 'Mallory', 'address': 'mallory@evil.test'}},
        'sender': {'emailAddress': {'name': 'Mallory', 'address': 'mallory@evil.test'}},
        'toRecipients': [{'emailAddress': {'name': 'Victim', 'address': 'victim@contoso.test'}}],
        'ccRecipients': [],
        'bccRecipients': [],
        'replyTo': [],
    }


def _huge(rng):
    size = rng.choice((5000, 20000, 100000, 100000, 1000000))
    return rng.choice(('A', 'é', '🦄', '<b>', '\u202e', 'a\x00')) * size


def _mutate(item, rng):
    """Apply one hostile change to ``item`` (in place); returns its name."""
    kind = rng.choice(('wrong_type', 'wrong_type', 'missing', 'huge', 'bad_date', 'bad_date', 'bad_text',
                       'odata_type', 'recipients', 'flag', 'categories', 'extra'))
    if kind == 'wrong_type':
        item[rng.choice(MESSAGE_FIELDS)] = copy.deepcopy(rng.choice(GARBAGE_VALUES))
    elif kind == 'missing':
        item.pop(rng.choice(MESSAGE_FIELDS), None)
    elif kind == 'huge':
        item[rng.choice(TEXT_FIELDS + ('from',))] = _huge(rng)
    elif kind == 'bad_date':
        item[rng.choice(DATE_FIELDS)] = copy.deepcopy(rng.choice(BAD_DATES))
    elif kind == 'bad_text':
        item[rng.choice(TEXT_FIELDS)] = rng.choice((_RANDOM_CJK, '\ud800', 'a\udc00b', 'nul\x00nul', '\x00' * 50, '\ufffe\uffff',
                                                    '\u0000\u0001\u001f', 'é\u0301' * 300, '\r\n' * 100))
    elif kind == 'odata_type':
        item['@odata.type'] = copy.deepcopy(rng.choice(ODATA_TYPES))
    elif kind == 'recipients':
        field = rng.choice(RECIPIENT_FIELDS)
        item[field] = rng.choice((
            {'emailAddress': {'name': 'x'}}, ['a@b.c', 'd@e.f'], [{'emailAddress': 'x'}], [None, 1, []],
            [{'emailAddress': {'name': '"Evil, Inc." <ceo@bank.test>', 'address': 'a,b;c@evil.test\r\nBcc: x@y'}}],
            [{'emailAddress': {'name': 'N' * 10000, 'address': 'a' * 10000 + '@x.test'}}],
            [{'emailAddress': {'name': 'many', 'address': 'r%d@evil.test' % n}} for n in range(rng.choice((10, 600,
                                                                                                          5000)))],
            {'emailAddress': {'name': ['list'], 'address': {'dict': 1}}}, 'mallory@evil.test',
        ))
    elif kind == 'flag':
        item['flag'] = rng.choice(('flagged', {'flagStatus': 3}, {'flagStatus': 'FLAGGED'}, {'flagStatus': None},
                                   {'flagStatus': 'deleted'}, [], {'dueDateTime': 'tomorrow'}))
    elif kind == 'categories':
        item['categories'] = rng.choice(('Red', [1, None, {}], ['x' * 10000], ['c%d' % n for n in range(500)],
                                         ['\ud800', '\x00', ''], {'a': 'b'}))
    else:
        item[rng.choice(('@odata.context', 'body', 'internetMessageHeaders', 'unknownProperty', '@removed.not'))] = \
            rng.choice(({'contentType': 'html', 'content': '<script>x</script>' * 1000}, [{'name': 'X', 'value': 'y'}],
                        'z' * 30000, None))
    return kind


def malformed_items(count, seed=9, folder_id='hostile-folder'):
    """``count`` hostile items, deterministic for a seed: ``[(item, kind)]``.

    About one in eight is a non-object, a removal marker with an odd id or an item with an unusable id; the others
    are messages (id ``HOSTILE-nnnnnn``) with one to four hostile fields each.
    """
    rng = random.Random('maildesk-hostile:%s' % seed)
    out = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.04:
            out.append((copy.deepcopy(rng.choice((None, 'string', 42, [], [valid_item(index)], True, 1.5, '{}'))),
                        'not_object'))
        elif roll < 0.08:
            marker = {'@removed': rng.choice(({'reason': 'deleted'}, 'string', None, [], {'reason': 7}))}
            weird = rng.choice(WEIRD_IDS + ('%s%06d' % (HOSTILE_PREFIX, rng.randrange(count)),))
            if weird is not None:
                marker['id'] = copy.deepcopy(weird)
            out.append((marker, 'removed_marker'))
        elif roll < 0.13:
            item = valid_item(index, folder_id)
            item['id'] = copy.deepcopy(rng.choice(WEIRD_IDS))
            out.append((item, 'bad_id'))
        else:
            item = valid_item(index, folder_id)
            kinds = [_mutate(item, rng) for _n in range(rng.randint(1, 4))]
            out.append((item, '+'.join(kinds)))
    return out


# Whole delta responses that are not Graph's: (name, status, content type, body bytes).
# {next} is replaced by a working nextLink of the proxy; {evil} by a listener on another port.
WIRE_BODIES = (
    ('invalid_utf8_in_strings', 200, 'application/json',
     b'{"value": [{"id": "HOSTILE-UTF8-1", "subject": "caf\xe9 \xff\xfe \xc3\x28 \xed\xa0\x80", '
     b'"from": {"emailAddress": {"name": "\xf0\x28\x8c\x28", "address": "x@evil.test"}}}], '
     b'"@odata.nextLink": "{next}"}'),
    ('not_json', 200, 'application/json', b'<html><body>Service temporarily unavailable</body></html>'),
    ('json_array', 200, 'application/json', b'[{"id": "x"}]'),
    ('json_null', 200, 'application/json', b'null'),
    ('value_not_list', 200, 'application/json', b'{"value": {"id": "x"}, "@odata.nextLink": "{next}"}'),
    ('next_link_number', 200, 'application/json', b'{"value": [], "@odata.nextLink": 12}'),
    ('no_links', 200, 'application/json', b'{"value": []}'),
    ('delta_link_object', 200, 'application/json', b'{"value": [], "@odata.deltaLink": {"href": "x"}}'),
    ('foreign_next_link', 200, 'application/json', b'{"value": [], "@odata.nextLink": "{evil}"}'),
    ('nan_and_infinity', 200, 'application/json',
     b'{"value": [{"id": "HOSTILE-NAN-1", "isRead": NaN, "importance": Infinity, "subject": -Infinity}], '
     b'"@odata.nextLink": "{next}"}'),
    ('deep_nesting', 200, 'application/json', b'{"value": ' + b'[' * 100000 + b']' * 100000 + b'}'),
    ('truncated', 200, 'application/json', b'{"value": [{"id": "HOSTILE-TRUNC-1", "subject": "cut'),
    ('html_error_500', 500, 'text/html', b'<html>oops</html>'),
    ('error_without_body', 502, 'application/json', b''),
    ('odd_error_shape', 400, 'application/json', b'{"error": "just a string", "code": ["x"]}'),
)


def _canary(expr='1'):
    return 'top.__xss=(top.__xss||0)+%s' % expr


_C = _canary()
# Script injection attempts: bodies (HTML), subjects and sender names (text) carry them.
XSS_PAYLOADS = (
    '<script>%s</script>' % _C,
    '<SCRIPT SRC="data:text/javascript,%s"></SCRIPT>' % _C,
    '<script>/*</script><script>*/%s</script>' % _C,
    '<scr<script>ipt>%s</scr</script>ipt>' % _C,
    '<img src=x onerror="%s">' % _C,
    '<IMG SRC=x OnErRoR=%s>' % _C,
    '<img src="x" onerror="&#116;&#111;&#112;&#46;&#95;&#95;&#120;&#115;&#115;&#61;&#49;">',
    '<svg onload="%s"></svg>' % _C,
    '<svg><script>%s</script></svg>' % _C,
    '<svg><animate onbegin="%s" attributeName="x" dur="1s"/></svg>' % _C,
    '<svg><a xlink:href="javascript:%s"><text x="20" y="20">svg link</text></a></svg>' % _C,
    '<math><mtext><table><mglyph><style><img src=x onerror="%s">' % _C,
    '<body onload="%s">' % _C,
    '<details open ontoggle="%s"><summary>x</summary></details>' % _C,
    '<input autofocus onfocus="%s">' % _C,
    '<video><source onerror="%s"></video>' % _C,
    '<audio src=x onerror="%s"></audio>' % _C,
    '<marquee onstart="%s">m</marquee>' % _C,
    '<div onmouseover="%s" style="width:100%%;height:400px">hover</div>' % _C,
    '<a href="javascript:%s">click me</a>' % _C,
    '<a href="JaVaScRiPt:%s">mixed case</a>' % _C,
    '<a href=" &#14;  javascript:%s">leading spaces</a>' % _C,
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;%s">entities</a>' % _C,
    '<a href="jav&#x09;ascript:%s">tab</a>' % _C,
    '<a href="java\nscript:%s">newline</a>' % _C,
    '<a href="vbscript:msgbox(1)">vbscript</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD50b3AuX194c3M9MTwvc2NyaXB0Pg==">data html</a>',
    '<a href="data:text/html,<script>%s</script>">data html 2</a>' % _C,
    '<iframe src="javascript:%s"></iframe>' % _C,
    '<iframe src="data:text/html,<script>%s</script>"></iframe>' % _C,
    '<iframe srcdoc="<script>%s</script>"></iframe>' % _C,
    '<object data="javascript:%s"></object>' % _C,
    '<object data="data:text/html;base64,PHNjcmlwdD50b3AuX194c3M9MTwvc2NyaXB0Pg=="></object>',
    '<embed src="javascript:%s">' % _C,
    '<embed src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9InRvcC5fX3hzcz0xIj48L3N2Zz4=">',
    '<meta http-equiv="refresh" content="0;url=javascript:%s">' % _C,
    '<meta http-equiv="refresh" content="0;url=data:text/html,<script>%s</script>">' % _C,
    '<base href="javascript:%s//"><a href="relative">base</a>' % _C,
    '<form action="javascript:%s"><input type="submit" value="go"></form>' % _C,
    '<form><button formaction="javascript:%s">button</button></form>' % _C,
    '<form id="f"></form><button form="f" formaction="javascript:%s">outside</button>' % _C,
    '<isindex action="javascript:%s" type="image">' % _C,
    '<div style="background-image:url(javascript:%s)">css url</div>' % _C,
    '<div style="width: expression(%s)">css expression</div>' % _C,
    '<div style="behavior: url(x.htc); -moz-binding: url(data:text/xml,x)">css behavior</div>',
    '<style>@import "javascript:%s"; body{background:url("javascript:%s")}</style>' % (_C, _C),
    '<style>*{x:expression(%s)}</style>' % _C,
    '<link rel="stylesheet" href="javascript:%s">' % _C,
    '<table background="javascript:%s"><tr><td>t</td></tr></table>' % _C,
    '<template><img src=x onerror="%s"></template>' % _C,
    '<noscript><p title="</noscript><img src=x onerror=%s>"></noscript>' % _C,
    '<xmp><img src=x onerror="%s"></xmp>' % _C,
    '<textarea><img src=x onerror="%s"></textarea>' % _C,
    '<title><img src=x onerror="%s"></title>' % _C,
    '"><img src=x onerror="%s">' % _C,
    "'><script>%s</script>" % _C,
    '</iframe><script>%s</script>' % _C,
    '<img src="x` `<script>%s</script>"` `>' % _C,
    '<img """><script>%s</script>">' % _C,
    '<a href="#" onclick="%s">onclick</a>' % _C,
    '<a href="https://example.com" target="_top" onauxclick="%s">aux</a>' % _C,
    '%3Cscript%3E' + _C + '%3C%2Fscript%3E',
    '&lt;script&gt;%s&lt;/script&gt;' % _C,
    '<img src=x:alert(1) onerror=eval(src)>',
    '{{constructor.constructor("%s")()}}' % _C,
    '<svg><use href="data:image/svg+xml;base64,PHN2ZyBpZD0neCcgeG1sbnM9J2h0dHA6Ly93d3cudzMub3JnLzIwMDAvc3ZnJz48'
    'aW1hZ2UgaHJlZj0neCcgb25lcnJvcj0ndG9wLl9feHNzPTEnLz48L3N2Zz4=#x"/></svg>',
)
