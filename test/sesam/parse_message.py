"""Independent reader for the message tests: Python's own `email` package (policy.default,
RFC 5322/6532 aware) parses each message and reports what it saw as one JSON object per
message. Reads a JSON list of file paths on stdin, writes a JSON list of results on stdout,
so a whole test matrix costs one Python start-up.

Nothing here is shared with the TypeScript parser: it is the second opinion.
"""
import email
import email.policy
import hashlib
import json
import sys


def headers_of(part):
    return [[name, str(value)] for name, value in part.items()]


def defects_of(msg):
    out = []
    for part in msg.walk():
        out.extend(type(d).__name__ for d in part.defects)
        for _, value in part.items():
            out.extend(type(d).__name__ for d in getattr(value, 'defects', ()))
    return out


def describe(path):
    with open(path, 'rb') as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    result = {
        'headers': headers_of(msg),
        'defects': defects_of(msg),
        'is_multipart': msg.is_multipart(),
        'content_type': msg.get_content_type(),
        'boundary': msg.get_boundary(),
        'preamble': msg.preamble,
        'epilogue': msg.epilogue,
        'date': msg['Date'].datetime.isoformat() if msg['Date'] is not None and msg['Date'].datetime else None,
        'from_addr': msg['From'].addresses[0].addr_spec if msg['From'] is not None else None,
        'to_addr': msg['To'].addresses[0].addr_spec if msg['To'] is not None else None,
        'message_id': str(msg['Message-ID']) if msg['Message-ID'] is not None else None,
        'subject': str(msg['Subject']) if msg['Subject'] is not None else None,
        'mime_version': str(msg['MIME-Version']) if msg['MIME-Version'] is not None else None,
        'leaf_count': len(leaves),
        'entity': None,
    }
    if len(leaves) == 1:
        part = leaves[0]
        payload = part.get_payload(decode=True) or b''
        result['entity'] = {
            'headers': headers_of(part),
            'content_type': part.get_content_type(),
            'content_type_raw': str(part['Content-Type']),
            'transfer_encoding': str(part['Content-Transfer-Encoding']),
            'content_description': str(part['Content-Description']),
            'content_disposition': part.get_content_disposition(),
            'filename': part.get_filename(),
            'sha256': hashlib.sha256(payload).hexdigest(),
            'length': len(payload),
        }
    return result


def main():
    paths = json.load(sys.stdin)
    out = []
    for path in paths:
        try:
            out.append(describe(path))
        except Exception as e:  # report, do not die: the test asserts on it
            out.append({'error': '%s: %s' % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
