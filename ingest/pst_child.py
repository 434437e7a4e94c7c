"""The part of PST/OST reading that touches `pypff`; it runs in a child process only.

pypff is C: a hostile or damaged file can crash the interpreter. This module reads raw fields
as plain Python values (dicts of str/bytes/int/datetime), and by default normalizes each item
right here in the child (`pst_normalize`) before sending the finished records back over a pipe
in batches, so a crash costs the parent one file, never itself, and reading and normalizing a
file happen in the same process, side by side with the other children. The normalizer (and
its HTML and reply libraries) is imported on the first file, not at import time.
"""

from __future__ import annotations

import functools
import struct
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .attachments import BLOCK_SIZE, AttachmentSink, HashingWriter

PST_SIGNATURE = b"!BDN"
# A batch goes to the parent when it holds this many items or this many body bytes, or has been
# gathering for this long: few pickles and pipe round trips per file, a bounded amount in
# flight per child, and never a long silence (the parent takes a silent child for hung).
_BATCH_ITEMS = 64
_BATCH_BYTES = 512 << 10
_BATCH_SECONDS = 1.0

# MAPI property tags (property id) read from each item.
PR_MESSAGE_CLASS = 0x001A
PR_SUBJECT = 0x0037
PR_CLIENT_SUBMIT_TIME = 0x0039
PR_SENT_REPRESENTING_NAME = 0x0042
PR_SENT_REPRESENTING_EMAIL = 0x0065
PR_TRANSPORT_HEADERS = 0x007D
PR_SENDER_NAME = 0x0C1A
PR_SENDER_ADDRTYPE = 0x0C1E
PR_SENDER_EMAIL = 0x0C1F
PR_DISPLAY_CC = 0x0E03
PR_DISPLAY_TO = 0x0E04
PR_DELIVERY_TIME = 0x0E06
PR_BODY = 0x1000
PR_HTML = 0x1013
PR_INTERNET_MESSAGE_ID = 0x1035
PR_REFERENCES = 0x1039
PR_IN_REPLY_TO = 0x1042
PR_DISPLAY_NAME = 0x3001
PR_ADDRTYPE = 0x3002
PR_EMAIL_ADDRESS = 0x3003
PR_CREATION_TIME = 0x3007
PR_MODIFICATION_TIME = 0x3008
PR_SMTP_ADDRESS = 0x39FE
PR_INTERNET_CPID = 0x3FDE
PR_SENDER_SMTP_ADDRESS = 0x5D01
PR_RECIPIENT_TYPE = 0x0C15
PR_ATTACH_METHOD = 0x3705
PR_ATTACH_FILENAME = 0x3704
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_MIME_TAG = 0x370E
PR_ATTACH_CONTENT_ID = 0x3712
PR_ATTACH_FLAGS = 0x3714
PR_ATTACHMENT_HIDDEN = 0x7FFE
# Contact fields (not named properties, so readable without the name-to-id map).
PR_COMPANY_NAME = 0x3A16
PR_BUSINESS_PHONE = 0x3A08
PR_MOBILE_PHONE = 0x3A1C
PR_JOB_TITLE = 0x3A17

ATTACH_EMBEDDED_MESSAGE = 5

_MESSAGE_PROPS = frozenset(
    {
        PR_MESSAGE_CLASS, PR_SENT_REPRESENTING_NAME, PR_SENT_REPRESENTING_EMAIL,
        PR_SENDER_ADDRTYPE, PR_SENDER_EMAIL, PR_DISPLAY_CC, PR_DISPLAY_TO,
        PR_INTERNET_MESSAGE_ID, PR_REFERENCES, PR_IN_REPLY_TO, PR_INTERNET_CPID,
        PR_SENDER_SMTP_ADDRESS, PR_DISPLAY_NAME, PR_COMPANY_NAME, PR_BUSINESS_PHONE,
        PR_MOBILE_PHONE, PR_JOB_TITLE, PR_EMAIL_ADDRESS,
    }
)  # fmt: skip
_RECIPIENT_PROPS = frozenset(
    {PR_RECIPIENT_TYPE, PR_DISPLAY_NAME, PR_ADDRTYPE, PR_EMAIL_ADDRESS, PR_SMTP_ADDRESS}
)
_ATTACHMENT_PROPS = frozenset(
    {
        PR_ATTACH_METHOD, PR_ATTACH_FILENAME, PR_ATTACH_LONG_FILENAME, PR_ATTACH_MIME_TAG,
        PR_ATTACH_CONTENT_ID, PR_ATTACH_FLAGS, PR_ATTACHMENT_HIDDEN, PR_DISPLAY_NAME,
    }
)  # fmt: skip

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def file_requests(conn: Connection) -> Iterator[tuple[Any, ...]]:
    """The ("file", ...) requests a child reads from its parent, until ("stop",) or EOF."""
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if not request or request[0] != "file":
            return
        yield request


def serve(conn: Connection) -> None:
    """Child main loop: read ("file", path, sink[, now]) requests until ("stop",) or EOF."""
    for request in file_requests(conn):
        path, sink = request[1], request[2]
        now = request[3] if len(request) > 3 else None
        try:
            walk_file(path, sink, conn.send, now=now)
        except Exception as exc:  # the file failed as a whole: tell the parent, serve on
            conn.send(("fatal", f"{type(exc).__name__}: {exc}"))
        else:
            conn.send(("done", None))


def check_signature(path: str) -> str | None:
    """None when the file starts like a PST/OST, else why it is not one."""
    with Path(path).open("rb") as handle:
        head = handle.read(4)
    if head != PST_SIGNATURE:
        return f"not a PST/OST file (starts with {head!r}, expected {PST_SIGNATURE!r})"
    return None


def walk_file(
    path: str,
    sink: AttachmentSink,
    send: Callable[[Any], None],
    *,
    now: datetime | None = None,
    normalize: bool = True,
) -> None:
    """Walk every folder of a PST/OST, sending ("items", batch) messages through `send`.

    A batch holds normalized records (`Message` / `NonMailItem` / `ItemError`, with `path` as
    their source and `now` as the ingestion time), or the raw item dicts when `normalize` is
    false.
    """
    import pypff  # imported here: the parent process never loads the C extension

    convert: Callable[[dict[str, Any]], Any] = _as_is
    if normalize:
        from .pst_normalize import normalize_raw_item  # heavy imports, child side only

        convert = functools.partial(normalize_raw_item, source=path, now=now or datetime.now(UTC))

    problem = check_signature(path)
    if problem:
        raise ValueError(problem)
    pst = pypff.file()
    try:
        pst.open(path)
    except OSError as exc:
        raise ValueError(f"pypff cannot open the file: {exc}") from exc
    batch: list[Any] = []
    batch_bytes = 0
    batch_started = time.monotonic()
    try:
        root = pst.get_root_folder()
        stack: list[tuple[Any, str]] = [(root, "")]
        while stack:
            folder, folder_path = stack.pop()
            for raw in _folder_items(folder, folder_path, sink):
                batch_bytes += raw.pop("_bytes", 0)
                batch.append(convert(raw))
                if (
                    len(batch) >= _BATCH_ITEMS
                    or batch_bytes >= _BATCH_BYTES
                    or time.monotonic() - batch_started >= _BATCH_SECONDS
                ):
                    send(("items", batch))
                    batch, batch_bytes, batch_started = [], 0, time.monotonic()
            children = []
            try:
                for index in range(folder.number_of_sub_folders):
                    sub = folder.get_sub_folder(index)
                    name = (sub.name or "").replace("/", "\u2215")
                    children.append((sub, f"{folder_path}/{name}" if folder_path else name))
            except OSError as exc:
                raw = {"type": "error", "folder": folder_path, "index": None,
                       "error": f"cannot list sub-folders: {exc}"}  # fmt: skip
                batch.append(convert(raw))
            stack.extend(reversed(children))
    finally:
        if batch:
            send(("items", batch))
        pst.close()


def _as_is(raw: dict[str, Any]) -> dict[str, Any]:
    return raw


def _folder_items(folder: Any, folder_path: str, sink: AttachmentSink) -> Any:
    try:
        count = folder.number_of_sub_messages
    except OSError as exc:
        yield {"type": "error", "folder": folder_path, "index": None,
               "error": f"cannot count folder items: {exc}"}  # fmt: skip
        return
    for index in range(count):
        try:
            item = folder.get_sub_message(index)
        except OSError as exc:
            yield _untyped_item(folder, folder_path, index, exc)
            continue
        if not hasattr(type(item), "plain_text_body"):  # on the type: no body read just to ask
            yield _untyped_item(folder, folder_path, index, None, item)
            continue
        try:
            raw = read_message(item, sink)
        except Exception as exc:  # a damaged item: record it and go on with the walk
            yield {"type": "error", "folder": folder_path, "index": index,
                   "error": f"{type(exc).__name__}: {exc}"}  # fmt: skip
            continue
        raw["folder"] = folder_path
        raw["index"] = index
        yield raw


def _untyped_item(
    folder: Any, folder_path: str, index: int, exc: Exception | None, item: Any = None
) -> dict[str, Any]:
    """An item pypff does not open as a message (free/busy data, views): read its class."""
    try:
        if item is None:
            folders, messages = folder.number_of_sub_folders, folder.number_of_sub_messages
            if folder.number_of_sub_items != folders + messages:
                raise OSError("item index ambiguous")
            item = folder.get_sub_item(folders + index)
        props = _props(item, frozenset({PR_MESSAGE_CLASS, PR_SUBJECT, PR_CREATION_TIME}))
    except Exception:
        return {"type": "error", "folder": folder_path, "index": index,
                "error": f"unreadable item: {exc}"}  # fmt: skip
    return {
        "type": "untyped",
        "folder": folder_path,
        "index": index,
        "message_class": _text(props.get(PR_MESSAGE_CLASS)),
        "subject": _text(props.get(PR_SUBJECT)),
        "creation_time": _time(props.get(PR_CREATION_TIME)),
    }


def _props(item: Any, wanted: frozenset[int]) -> dict[int, Any]:
    found: dict[int, Any] = {}
    if not item.number_of_record_sets:
        return found
    for entry in item.get_record_set(0).entries:
        entry_type = entry.entry_type
        if entry_type in wanted:
            found[entry_type] = entry
    return found


def _text(entry: Any) -> str | None:
    if entry is None:
        return None
    try:
        value = entry.get_data_as_string()
    except (OSError, UnicodeDecodeError):
        data = entry.data or b""
        value = data.decode("utf-16-le", "replace") if entry.value_type == 0x1F else None
    return value.rstrip("\x00") if value else value


def _int(entry: Any) -> int | None:
    if entry is None:
        return None
    try:
        return int(entry.get_data_as_integer())
    except (OSError, TypeError, ValueError):
        return None


def _time(entry: Any) -> datetime | None:
    if entry is None:
        return None
    try:
        value = entry.get_data_as_datetime()
    except (OSError, ValueError, OverflowError):
        return None
    return _aware(value)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.year < 1980:  # 1601 / zero FILETIMEs mean "not set"
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _safe(getter: Callable[[], Any]) -> Any:
    try:
        return getter()
    except (OSError, ValueError, OverflowError):
        return None


def read_message(item: Any, sink: AttachmentSink) -> dict[str, Any]:
    """Every field the normalizer needs from one pypff message, as plain values."""
    props = _props(item, _MESSAGE_PROPS)
    plain = _safe(lambda: item.plain_text_body)
    html = _safe(lambda: item.html_body)
    rtf = None if plain else _safe(lambda: item.rtf_body)
    raw: dict[str, Any] = {
        "type": "message",
        "message_class": _text(props.get(PR_MESSAGE_CLASS)),
        "subject": _safe(lambda: item.subject),
        "sender_name": _safe(lambda: item.sender_name),
        "sender_email": _text(props.get(PR_SENDER_EMAIL)),
        "sender_addrtype": _text(props.get(PR_SENDER_ADDRTYPE)),
        "sender_smtp": _text(props.get(PR_SENDER_SMTP_ADDRESS)),
        "representing_name": _text(props.get(PR_SENT_REPRESENTING_NAME)),
        "representing_email": _text(props.get(PR_SENT_REPRESENTING_EMAIL)),
        "transport_headers": _safe(lambda: item.transport_headers),
        "message_id": _text(props.get(PR_INTERNET_MESSAGE_ID)),
        "in_reply_to": _text(props.get(PR_IN_REPLY_TO)),
        "references": _text(props.get(PR_REFERENCES)),
        "display_to": _text(props.get(PR_DISPLAY_TO)),
        "display_cc": _text(props.get(PR_DISPLAY_CC)),
        "codepage": _int(props.get(PR_INTERNET_CPID)),
        "submit_time": _aware(_safe(lambda: item.client_submit_time)),
        "delivery_time": _aware(_safe(lambda: item.delivery_time)),
        "creation_time": _aware(_safe(lambda: item.creation_time)),
        "modification_time": _aware(_safe(lambda: item.modification_time)),
        "plain": plain,
        "html": html,
        "rtf": rtf,
        "contact": {
            "display_name": _text(props.get(PR_DISPLAY_NAME)),
            "email": _text(props.get(PR_EMAIL_ADDRESS)),
            "company": _text(props.get(PR_COMPANY_NAME)),
            "job_title": _text(props.get(PR_JOB_TITLE)),
            "business_phone": _text(props.get(PR_BUSINESS_PHONE)),
            "mobile_phone": _text(props.get(PR_MOBILE_PHONE)),
        },
        "recipients": _recipients(item),
        "errors": [],
    }
    raw["attachments"] = _attachments(item, sink, raw["errors"])
    raw["_bytes"] = sum(len(b) for b in (plain, html, rtf) if b)
    return raw


def _recipients(item: Any) -> list[tuple[int, str | None, str | None]]:
    try:
        table = item.recipients
    except OSError:
        return []
    if table is None:
        return []
    result = []
    for index in range(table.number_of_record_sets):
        found: dict[int, Any] = {}
        for entry in table.get_record_set(index).entries:
            if entry.entry_type in _RECIPIENT_PROPS:
                found[entry.entry_type] = entry
        email = _text(found.get(PR_SMTP_ADDRESS))
        if not email and (_text(found.get(PR_ADDRTYPE)) or "SMTP").upper() == "SMTP":
            email = _text(found.get(PR_EMAIL_ADDRESS))
        kind = _int(found.get(PR_RECIPIENT_TYPE)) or 1
        result.append((kind, _text(found.get(PR_DISPLAY_NAME)), email))
    return result


def _attachments(item: Any, sink: AttachmentSink, errors: list[str]) -> list[dict[str, Any]]:
    try:
        count = item.number_of_attachments
    except OSError as exc:
        errors.append(f"cannot count attachments: {exc}")
        return []
    result = []
    for index in range(count):
        try:
            result.append(_attachment(item.get_attachment(index), sink))
        except Exception as exc:  # one damaged attachment does not lose the message
            errors.append(f"attachment {index} unreadable: {type(exc).__name__}: {exc}")
    return result


def _attachment(attachment: Any, sink: AttachmentSink) -> dict[str, Any]:
    props = _props(attachment, _ATTACHMENT_PROPS)
    method = _int(props.get(PR_ATTACH_METHOD))
    filename = (
        _safe(lambda: attachment.long_filename)
        or _text(props.get(PR_ATTACH_LONG_FILENAME))
        or _text(props.get(PR_ATTACH_FILENAME))
    )
    mime_tag = _text(props.get(PR_ATTACH_MIME_TAG))
    size = _safe(lambda: attachment.size) or 0
    writer = HashingWriter(sink.open(filename, mime_tag or "application/octet-stream"))
    embedded_data = bytearray() if method == ATTACH_EMBEDDED_MESSAGE else None
    error = None
    try:
        if size:
            attachment.seek_offset(0, 0)
        remaining = size
        while remaining > 0:
            block = attachment.read_buffer(min(BLOCK_SIZE, remaining))
            if not block:
                error = f"attachment data ends {remaining} bytes early"
                break
            writer.write(block)
            if embedded_data is not None:
                embedded_data += block
            remaining -= len(block)
    except Exception:
        writer.abort()
        raise
    stored_size, sha, location = writer.finish()
    embedded = None
    if embedded_data is not None:
        try:
            embedded = read_embedded_message(bytes(embedded_data))
        except (ValueError, struct.error, IndexError) as exc:
            error = f"embedded message unreadable: {exc}"
    return {
        "filename": filename,
        "display_name": _text(props.get(PR_DISPLAY_NAME)),
        "mime_tag": mime_tag,
        "content_id": _text(props.get(PR_ATTACH_CONTENT_ID)),
        "flags": _int(props.get(PR_ATTACH_FLAGS)) or 0,
        "hidden": bool(_int(props.get(PR_ATTACHMENT_HIDDEN))),
        "method": method,
        "size": stored_size,
        "sha256": sha,
        "location": location,
        "embedded": embedded,
        "error": error,
    }


# --- Embedded messages -------------------------------------------------------------------
# pypff exposes an embedded message only as its attachment data: the message's own property
# context (MS-PST heap-on-node + BTH). Its properties stored in that heap are read here;
# values kept in sub-nodes (large bodies, its recipient and attachment tables) are not
# reachable through pypff and are reported as missing.

_HEAP_BLOCK = 8176  # data bytes per block in a Unicode PST heap
_FIXED_INLINE = {0x0002, 0x0003, 0x0004, 0x000A, 0x000B}


def parse_property_context(data: bytes) -> dict[int, tuple[int, Any]]:
    """{property id: (type, value)} from a PC heap; sub-node values are None."""
    if len(data) < 12:
        raise ValueError("embedded message data too short")
    _, signature, client_signature, user_root = struct.unpack_from("<HBBI", data, 0)
    if signature != 0xEC or client_signature != 0xBC:
        raise ValueError("embedded message data is not a property context")

    def heap(hid: int) -> bytes:
        if hid & 0x1F:
            raise ValueError("value lives in a sub-node")
        index = (hid >> 5) & 0x7FF
        base = (hid >> 16) * _HEAP_BLOCK
        if base + 2 > len(data):
            raise ValueError("heap block out of range")
        page_map = base + struct.unpack_from("<H", data, base)[0]
        allocations = struct.unpack_from("<H", data, page_map)[0]
        if not 1 <= index <= allocations:
            raise ValueError("heap index out of range")
        start, end = struct.unpack_from("<HH", data, page_map + 4 + (index - 1) * 2)
        if not start <= end <= len(data) - base:
            raise ValueError("heap allocation out of range")
        return data[base + start : base + end]

    header = heap(user_root)
    bth_type, key_size, entry_size, levels, root = struct.unpack_from("<BBBBI", header, 0)
    if bth_type != 0xB5 or key_size != 2 or entry_size != 6 or levels > 8:
        raise ValueError("embedded message property tree is malformed")
    records: dict[int, tuple[int, Any]] = {}
    pending = [(root, levels)] if root else []
    while pending:
        hid, level = pending.pop()
        node = heap(hid)
        if level:
            pending.extend(
                (struct.unpack_from("<I", node, off + 2)[0], level - 1)
                for off in range(0, len(node) - 5, 6)
            )
            continue
        for off in range(0, len(node) - 7, 8):
            prop_id, prop_type, value = struct.unpack_from("<HHI", node, off)
            if prop_type in _FIXED_INLINE:
                records[prop_id] = (prop_type, value)
            elif value == 0:
                records[prop_id] = (prop_type, b"")
            else:
                try:
                    records[prop_id] = (prop_type, heap(value))
                except ValueError:
                    records[prop_id] = (prop_type, None)
    return records


def _pc_text(records: dict[int, tuple[int, Any]], prop: int) -> str | None:
    prop_type, value = records.get(prop, (0, None))
    if not isinstance(value, bytes):
        return None
    if prop_type == 0x1F:
        return value.decode("utf-16-le", "replace").rstrip("\x00")
    if prop_type == 0x1E:
        return value.decode("cp1252", "replace").rstrip("\x00")
    return None


def _pc_time(records: dict[int, tuple[int, Any]], prop: int) -> datetime | None:
    prop_type, value = records.get(prop, (0, None))
    if prop_type != 0x40 or not isinstance(value, bytes) or len(value) != 8:
        return None
    ticks = struct.unpack("<Q", value)[0]
    try:
        return _aware((_FILETIME_EPOCH + timedelta(microseconds=ticks // 10)).replace(tzinfo=None))
    except OverflowError:
        return None


def read_embedded_message(data: bytes) -> dict[str, Any]:
    records = parse_property_context(data)
    subject = _pc_text(records, PR_SUBJECT)
    if subject and subject.startswith("\x01") and len(subject) >= 2:
        subject = subject[2:]  # a subject-prefix marker, as pypff strips it for items
    missing = [hex(prop) for prop, (_, value) in records.items() if value is None]
    html = records.get(PR_HTML, (0, None))[1]
    body = _pc_text(records, PR_BODY)
    return {
        "type": "message",
        "message_class": _pc_text(records, PR_MESSAGE_CLASS),
        "subject": subject,
        "sender_name": _pc_text(records, PR_SENDER_NAME),
        "sender_email": _pc_text(records, PR_SENDER_EMAIL),
        "sender_addrtype": _pc_text(records, PR_SENDER_ADDRTYPE),
        "sender_smtp": _pc_text(records, PR_SENDER_SMTP_ADDRESS),
        "representing_name": _pc_text(records, PR_SENT_REPRESENTING_NAME),
        "representing_email": _pc_text(records, PR_SENT_REPRESENTING_EMAIL),
        "transport_headers": _pc_text(records, PR_TRANSPORT_HEADERS),
        "message_id": _pc_text(records, PR_INTERNET_MESSAGE_ID),
        "in_reply_to": _pc_text(records, PR_IN_REPLY_TO),
        "references": _pc_text(records, PR_REFERENCES),
        "display_to": _pc_text(records, PR_DISPLAY_TO),
        "display_cc": _pc_text(records, PR_DISPLAY_CC),
        "codepage": records.get(PR_INTERNET_CPID, (0, None))[1],
        "submit_time": _pc_time(records, PR_CLIENT_SUBMIT_TIME),
        "delivery_time": _pc_time(records, PR_DELIVERY_TIME),
        "creation_time": _pc_time(records, PR_CREATION_TIME),
        "modification_time": _pc_time(records, PR_MODIFICATION_TIME),
        "plain": body.encode("utf-8") if body else None,
        "html": html if isinstance(html, bytes) and html else None,
        "rtf": None,
        "contact": {},
        "recipients": [],
        "attachments": [],
        "errors": (
            [f"embedded message properties stored outside its data: {', '.join(missing)}"]
            if missing
            else []
        ),
    }
