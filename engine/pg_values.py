"""A page's values to PostgreSQL in one go, column by column: array literals (for ``unnest``) and COPY text.

Both encoders take an ORM column type (``'VARCHAR'``, ``'VARCHAR(64)'``, ``'text'``, ``'int4'``...) and refuse a
type they do not know. Text is escaped for a whole column at once, with C string methods: the values are joined
around NUL, which text never holds (``graph.mail`` strips it, PostgreSQL cannot store it); a NUL that got through
is refused, as psycopg2 would. ORM-style, an empty value (False, None, '') is NULL, except False in a boolean
column.
"""
import io

NUL_REFUSED = 'A string literal cannot contain NUL (0x00) characters.'  # what psycopg2 says
TEXT_KINDS = ('varchar', 'text')
NUMBER_KINDS = ('int4', 'int8', 'float8', 'numeric')


def _kind(column_type):
    return column_type.split('(')[0].lower()


def _scalars(values, column_type):
    """Values of a non-text column as PostgreSQL reads them, None for NULL (ORM-style: False is NULL except in a
    boolean column)."""
    kind = _kind(column_type)
    if kind == 'bool':
        return [None if value is None else 't' if value else 'f' for value in values]
    if kind == 'timestamp':
        return [str(value) if value else None for value in values]  # str(): PG reads it
    if kind in NUMBER_KINDS:
        return [None if value is None or value is False else repr(value) for value in values]
    raise ValueError('No PostgreSQL value for columns of type %s' % column_type)


def pg_array(values, column_type):
    """The values of one column as ONE array literal, for ``%s::type[]``.

    psycopg2 sends a Python list as ``ARRAY['a', 'b', ...]``: one SQL literal per row that PostgreSQL's parser
    reads one by one. An array literal is one parameter its array reader takes in one go: about half the CPU on both
    sides for a page's INSERT."""
    if _kind(column_type) in TEXT_KINDS:
        return _text_array(values)
    # quoted: a timestamp holds a space
    return '{%s}' % ','.join(['NULL' if field is None else '"%s"' % field
                              for field in _scalars(values, column_type)])


def _text_array(values):
    """Text in array syntax: each element quoted, backslashes and double quotes escaped; an empty value is a lone
    NUL until the end, where it becomes NULL."""
    if not values:
        return '{}'
    text = '\x00\x01'.join([value or '\x00' for value in values])
    if text.count('\x00') != len(values) - 1 + sum(not value for value in values):
        raise ValueError(NUL_REFUSED)
    if '\\' in text or '"' in text:
        text = text.replace('\\', '\\\\').replace('"', '\\"')
    text = '{"%s"}' % text.replace('\x00\x01', '","')
    return text.replace('"\x00"', 'NULL') if '\x00' in text else text


def copy_fields(values, column_type):
    """The values of one column as fields of COPY's text format: ``\\N`` is NULL; in text, backslash, tab,
    newline and carriage return are escaped (a field holding ``\\.`` is then never COPY's end-of-data mark)."""
    if _kind(column_type) in TEXT_KINDS:
        return _copy_texts(values)
    return ['\\N' if field is None else field for field in _scalars(values, column_type)]


def _copy_texts(values):
    if not values:
        return []
    text = '\x00'.join([value or '' for value in values])
    if text.count('\x00') != len(values) - 1:
        raise ValueError(NUL_REFUSED)
    for char, escaped in (('\\', '\\\\'), ('\t', '\\t'), ('\n', '\\n'), ('\r', '\\r')):
        if char in text:
            text = text.replace(char, escaped)
    return [field or '\\N' for field in text.split('\x00')]


def copy_rows(cr, table, fields):
    """``COPY table (columns) FROM STDIN`` of ``fields`` (``{column: [COPY field per row]}``, see
    :func:`copy_fields`), in one stream: PostgreSQL reads each value once, with no SQL to parse and no array to
    unnest. Column names are the caller's own (a model's columns), quoted here."""
    data = '\n'.join(['\t'.join(row) for row in zip(*fields.values(), strict=True)]) + '\n'
    columns = ', '.join('"%s"' % name for name in fields)
    cr.copy_expert('COPY "%s" (%s) FROM STDIN' % (table, columns), io.StringIO(data), size=max(len(data), 8192))
