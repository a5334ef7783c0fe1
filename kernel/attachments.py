"""Attachments: the copies, photos and signed forms the desk collects (篇5 §1 b, §2 e, §4 c, §5 b-e, §7 d, §10 d ...).

A register declares which documents its records take, next to its columns:

    documents = (Document("id_copy", T("身份证复印件", "ID copy"), required_before="issue", personal=True,
                          flag="id_copy_on_file"),
                 Document("photo", T("一寸照片", "Photo"), required_before="issue", personal=True))

`required_before` names the steps (or a screen's action, e.g. the ISP batch) that are refused while the document is
missing: `kernel.workflow.refusal()` asks `missing()`, so a single step and a bulk step are refused alike. `flag` is
an existing yes/no column ("copy received") that the server now sets from the file's presence. `personal` documents
(ID copies, photos) are shown only to roles that may see the register's personal data (its `reveal` grant) and are
erased after the register's retention period (`purge()`; `flask --app wsgi purge-attachments`).

A file is accepted only after its content says what it is (magic bytes, never the name or the browser's type):
JPEG, PNG, WebP images and PDF. HEIC is refused: no library installed here reads it. Images are decoded and
re-encoded by Pillow, which drops EXIF (GPS, camera) and anything appended to the picture. Files are stored under a
random name (`Storage`: the local filesystem under ATTACHMENTS_DIR, or an S3-compatible store through boto3); the
database keeps the name as uploaded (for display only), type, size, SHA-256, who, when, register, record, property.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

import boto3
from flask import current_app, g, has_app_context, has_request_context
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, and_, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kernel import audit, permissions
from kernel.checks import check
from kernel.clock import now, start_of, today
from kernel.db import db
from kernel.i18n import T
from kernel.register import Retention, registers
from kernel.retention import RetentionRule

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_NAME = 100            # characters of an uploaded file's name
MAX_PIXELS = 40_000_000   # a decompression bomb is refused before it is decoded
THUMB = (240, 240)
SAVE = "save"             # required_before=SAVE: the record is not saved without it
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "pdf": "application/pdf"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "pdf": "pdf"}
KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}(_t)?\.(jpg|png|webp|pdf)$")

ACCEPT = "image/jpeg,image/png,image/webp,application/pdf,.jpg,.jpeg,.png,.webp,.pdf"
MSG_EMPTY = T("文件是空的(0字节)，请重新扫描或拍照", "The file is empty (0 bytes)")
MSG_TYPE = T("只接受 JPEG、PNG、WebP 图片或 PDF 文件(按文件内容判断，不看扩展名)",
             "Only JPEG, PNG, WebP images or PDF files are accepted (judged by content, not the name)")
MSG_BROKEN_IMAGE = T("图片已损坏或不完整，无法读取，请重新拍照或扫描", "The image is damaged or incomplete")
MSG_BROKEN_PDF = T("PDF 文件不完整或已损坏，请重新扫描", "The PDF is incomplete or damaged")
MSG_BAD_NAME = T("文件名不合法(不能包含路径或特殊字符)，请改名后再上传", "The file name is not allowed (no paths)")
MSG_LONG_NAME = T(f"文件名过长(不超过{MAX_NAME}个字)，请改名后再上传", f"The file name is too long (max {MAX_NAME})")
MSG_TOO_BIG_PIXELS = T("图片尺寸过大，请缩小后再上传", "The image has too many pixels")


def msg_too_large(limit: int) -> T:
    mb = f"{limit / 1024 / 1024:g}"
    return T(f"文件过大，单个文件不能超过 {mb} MB", f"The file is too large (max {mb} MB)")


class AttachmentError(Exception):
    def __init__(self, message: T):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class Document:
    """One kind of paper a record takes: its code, label, the steps it is required before, personal or not."""

    kind: str
    label: T
    required_before: str | tuple[str, ...] = ()
    personal: bool = False
    flag: str | None = None                    # a yes/no column that follows the file's presence
    when: Callable[[Any], bool] | None = None  # required only for some records (a kind of request)

    @property
    def steps(self) -> tuple[str, ...]:
        r = self.required_before
        return (r,) if isinstance(r, str) else tuple(r)

    def required_for(self, record: Any, step: str) -> bool:
        return step in self.steps and (self.when is None or bool(self.when(record)))


class Attachment(db.Model):
    """One stored file of a record (not a register of its own: it is shown and audited on its record)."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    register: Mapped[str] = mapped_column(String(40), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    property_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)         # as uploaded, for display only
    content_type: Mapped[str] = mapped_column(String(40), nullable=False)  # from the content
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    thumb_key: Mapped[str | None] = mapped_column(String(80))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=now, nullable=False)
    uploaded_by = relationship("StaffUser")
    __table_args__ = (Index("ix_attachment_register_record", "register", "record_id"),)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


# ---------------------------------------------------------------- declarations

def documents_of(model: type | None) -> tuple[Document, ...]:
    return tuple(getattr(model, "documents", ()) or ()) if model is not None else ()


def document(model: type, kind: str) -> Document | None:
    return next((d for d in documents_of(model) if d.kind == kind), None)


def with_documents() -> dict[str, type]:
    return {name: m for name, m in registers().items() if documents_of(m)}


def retention_of(model: type) -> Retention | None:
    """How long personal documents are kept after the record ends: the register's own period for them, or the
    period of its ID numbers."""
    return getattr(model, "document_retention", None) or getattr(model, "retention", None)


def rule_key(model: type) -> str:
    """The retention_rule row IT edits for a register's personal documents."""
    return f"{model.__tablename__}:documents"


# ---------------------------------------------------------------- content

@dataclass
class Prepared:
    """A file that passed every check, re-encoded, ready to store."""

    kind: str
    name: str
    fmt: str
    data: bytes
    thumb: bytes | None

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]


def sniff(data: bytes) -> str | None:
    """What the content is, from its first bytes: jpeg, png, webp, pdf, or None (refused)."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:5] == b"%PDF-":
        return "pdf"
    return None


def clean_name(name: str | None) -> str:
    """The uploaded name as shown (never used to store): no path, no control characters, not too long."""
    raw = unicodedata.normalize("NFC", name or "")
    if not raw.strip() or "/" in raw or "\\" in raw or ".." in raw or raw.strip().startswith("."):
        raise AttachmentError(MSG_BAD_NAME)
    if any(unicodedata.category(ch).startswith("C") for ch in raw):
        raise AttachmentError(MSG_BAD_NAME)
    if len(raw) > MAX_NAME:
        raise AttachmentError(MSG_LONG_NAME)
    return raw.strip()


def _reencode(data: bytes, fmt: str) -> tuple[bytes, bytes]:
    """Decode fully and write anew: no EXIF/GPS, nothing appended; and a small JPEG thumbnail."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
            if w * h > MAX_PIXELS:
                raise AttachmentError(MSG_TOO_BIG_PIXELS)
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)  # keep the picture upright once the orientation tag is gone
            out = io.BytesIO()
            if fmt == "jpeg":
                img.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
            elif fmt == "png":
                keep = img if img.mode in ("RGB", "RGBA", "L", "LA", "P") else img.convert("RGBA")
                keep.save(out, "PNG", optimize=True)
            else:
                img.convert("RGBA" if "A" in img.getbands() else "RGB").save(out, "WEBP", quality=88)
            thumb = img.convert("RGB")
            thumb.thumbnail(THUMB)
            t = io.BytesIO()
            thumb.save(t, "JPEG", quality=80)
    except AttachmentError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as ex:
        raise AttachmentError(MSG_BROKEN_IMAGE) from ex
    return out.getvalue(), t.getvalue()


def _check_pdf(data: bytes) -> None:
    tail = data[-1024:]
    if b"%%EOF" not in tail or b"obj" not in data:
        raise AttachmentError(MSG_BROKEN_PDF)


def prepare(kind: str, name: str | None, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Prepared:
    """Every check of one upload, before anything is stored; AttachmentError says what is wrong in Chinese."""
    shown = clean_name(name)
    if not data:
        raise AttachmentError(MSG_EMPTY)
    if len(data) > max_bytes:
        raise AttachmentError(msg_too_large(max_bytes))
    fmt = sniff(data)
    if fmt is None:
        raise AttachmentError(MSG_TYPE)
    if fmt == "pdf":
        _check_pdf(data)
        return Prepared(kind, shown, fmt, data, None)
    stored, thumb = _reencode(data, fmt)
    if len(stored) > max_bytes:
        raise AttachmentError(msg_too_large(max_bytes))
    return Prepared(kind, shown, fmt, stored, thumb)


# ---------------------------------------------------------------- storage

class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


def new_key(fmt: str) -> str:
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}.{EXTENSIONS[fmt]}"


def thumb_key(key: str) -> str:
    head, _, _ = key.rpartition(".")
    return f"{head}_t.jpg"


def _checked(key: str) -> str:
    if not KEY.match(key):
        raise ValueError("not a storage key")
    return key


class LocalStorage:
    """Files under one directory (instance/attachments by default), in 256 sub-directories by name."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / _checked(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # a reader never sees half a file

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


class S3Storage:
    """An S3-compatible object store (MinIO, Ceph, a cloud's), configured by URL:
    `s3://bucket/prefix?endpoint=https://minio.example:9000&region=cn-north-1`; credentials come from boto3's usual
    places (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or an instance role)."""

    def __init__(self, url: str, client: Any = None):
        u = urlparse(url)
        q = parse_qs(u.query)
        self.bucket, self.prefix = u.netloc, u.path.strip("/")
        if client is None:
            client = boto3.client("s3", endpoint_url=(q.get("endpoint") or [None])[0],
                                  region_name=(q.get("region") or [None])[0])
        self.client = client

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{_checked(key)}" if self.prefix else _checked(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))


def storage_from(url: str, local_dir: str | Path) -> Storage:
    if url.startswith("s3://"):
        return S3Storage(url)
    if url and not url.startswith("file://"):
        raise ValueError("ATTACHMENT_STORAGE must be empty, file:///path or s3://bucket/prefix")
    return LocalStorage(url[len("file://"):] if url else local_dir)


def storage() -> Storage:
    """The configured store of the current app (made once per app)."""
    app = current_app._get_current_object()
    store = app.extensions.get("frontdesk_storage")
    if store is None:
        store = storage_from(app.config.get("ATTACHMENT_STORAGE", ""), app.config["ATTACHMENTS_DIR"])
        app.extensions["frontdesk_storage"] = store
    return store


def max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES)) if has_app_context() \
        else DEFAULT_MAX_BYTES


# ---------------------------------------------------------------- files of a record

def files_of(session: Session, register: str, record_id: int) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.register == register,
                                                         Attachment.record_id == record_id)
                                .order_by(Attachment.kind, Attachment.id)))


def record_files(session: Session, register: str, record_id: int) -> list[Attachment]:
    """`files_of`, read once per request (a record's page asks for its files panel and its steps' uploads);
    `store` and `remove` forget it."""
    if not has_request_context():
        return files_of(session, register, record_id)
    cache = g.setdefault("fd_record_files", {})
    if (register, record_id) not in cache:
        cache[(register, record_id)] = files_of(session, register, record_id)
    return cache[(register, record_id)]


def _forget_files() -> None:
    if has_request_context():
        g.pop("fd_record_files", None)


def kinds_present(session: Session, record: Any) -> set[str]:
    if getattr(record, "id", None) is None:
        return set()
    return set(session.scalars(select(Attachment.kind).where(
        Attachment.register == record.__tablename__, Attachment.record_id == record.id).distinct()))


def _pending() -> list[str]:
    return g.setdefault("fd_stored_keys", []) if has_request_context() else []


def store(session: Session, record: Any, files: Iterable[Prepared], user_id: int | None) -> list[Attachment]:
    """Write the prepared files and their rows (the caller commits); each upload is audited as `attach`.

    The keys written are remembered for this request: `discard_pending()` removes them if the transaction does
    not commit, so a refused save leaves no file behind."""
    store_ = storage()
    rows = []
    _forget_files()
    for p in files:
        key = new_key(p.fmt)
        store_.put(key, p.data, p.content_type)
        _pending().append(key)
        tkey = None
        if p.thumb is not None:
            tkey = thumb_key(key)
            store_.put(tkey, p.thumb, "image/jpeg")
            _pending().append(tkey)
        row = Attachment(register=record.__tablename__, record_id=record.id,
                         property_id=getattr(record, "property_id", None), kind=p.kind, name=p.name,
                         content_type=p.content_type, size=len(p.data), sha256=hashlib.sha256(p.data).hexdigest(),
                         storage_key=key, thumb_key=tkey, uploaded_by_id=user_id)
        session.add(row)
        rows.append(row)
    session.flush()
    audit.record_bulk(session, record.__tablename__, "attach", [
        (record.id, r.property_id, {"file": (None, r.name), "kind": (None, r.kind), "sha256": (None, r.sha256),
                                    "attachment": (None, r.id)}) for r in rows])
    sync_flags(session, record)
    return rows


def keep_pending() -> None:
    """The transaction committed: the files written in this request stay."""
    if has_request_context():
        g.pop("fd_stored_keys", None)


def discard_pending(exc: Any = None) -> None:
    """The transaction did not commit: remove the files this request wrote (a teardown hook)."""
    keys = g.pop("fd_stored_keys", None) if has_request_context() else None
    if keys:
        store_ = storage()
        for key in keys:
            store_.delete(key)


def remove(session: Session, row: Attachment, action: str = "detach", reason: str | None = None) -> None:
    """Delete one file's row (audited under `action`); its stored bytes are removed once that commits."""
    changes = {"file": (row.name, None), "kind": (row.kind, None), "sha256": (row.sha256, None),
               "attachment": (row.id, None)}
    if reason:
        changes["reason"] = (None, reason)
    audit.record_bulk(session, row.register, action, [(row.record_id, row.property_id, changes)])
    _forget_files()
    session.delete(row)
    session.flush()


def delete_stored(rows: Iterable[Attachment]) -> None:
    store_ = storage()
    for row in rows:
        for key in (row.storage_key, row.thumb_key):
            if key:
                store_.delete(key)


def sync_flags(session: Session, record: Any) -> None:
    """The yes/no columns that mean "copy received" follow the files: set when one is there, cleared when not."""
    docs = [d for d in documents_of(type(record)) if d.flag]
    if not docs:
        return
    present = kinds_present(session, record)
    for d in docs:
        if bool(getattr(record, d.flag)) != (d.kind in present):
            setattr(record, d.flag, d.kind in present)


def missing(session: Session, record: Any, step: str) -> list[Document]:
    """The documents required before `step` that the record does not have (none declared: no query)."""
    wanted = [d for d in documents_of(type(record)) if d.required_for(record, step)]
    if not wanted:
        return []
    present = kinds_present(session, record)
    return [d for d in wanted if d.kind not in present]


def refusal(session: Session, record: Any, step: str, label: T) -> T | None:
    gone = missing(session, record, step)
    if not gone:
        return None
    zh = "、".join(d.label.zh for d in gone)
    en = ", ".join(d.label.en for d in gone)
    return T(f"请先上传“{zh}”再{label.zh}", f"Upload the {en} before “{label.en}”")


# ---------------------------------------------------------------- retention

def document_days(session: Session, model: type) -> int | None:
    kept = retention_of(model)
    if kept is None:
        return None
    days = session.scalar(select(RetentionRule.days).where(RetentionRule.register == rule_key(model)))
    return kept.days if days is None else days


def due(session: Session, on: date | None = None) -> dict[str, list[Attachment]]:
    """{register: [personal attachments whose record ended more than the kept days ago]}."""
    out: dict[str, list[Attachment]] = {}
    for name, model in sorted(with_documents().items()):
        kinds = [d.kind for d in documents_of(model) if d.personal]
        days = document_days(session, model)
        if not kinds or days is None:
            continue
        start = getattr(model, retention_of(model).start)
        cutoff = (on or today()) - timedelta(days=days)
        bound = start_of(cutoff) if getattr(start.type, "python_type", None) is datetime else cutoff
        out[name] = list(session.scalars(
            select(Attachment).join(model, and_(model.id == Attachment.record_id, Attachment.register == name))
            .where(Attachment.kind.in_(kinds), start.is_not(None), start < bound).order_by(Attachment.id)))
    return out


def purge(session: Session, on: date | None = None) -> tuple[dict[str, int], list[Attachment]]:
    """Remove the personal files that are due: each removal is audited as `purge_attachment`. Returns the counts
    and the rows removed: the caller commits, then removes their bytes (`delete_stored`)."""
    counts = {}
    removed = []
    for name, rows in due(session, on).items():
        for row in rows:
            remove(session, row, "purge_attachment", "保存期限已到")
            removed.append(row)
        counts[name] = len(rows)
        model = registers()[name]
        if any(d.flag for d in documents_of(model)):
            for rid in {r.record_id for r in rows}:
                record = session.get(model, rid)
                if record is not None:
                    with audit.acting("purge_attachment"):
                        sync_flags(session, record)
    session.flush()
    return counts, removed


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Attachment)) or 0


# ---------------------------------------------------------------- start-up checks

@check
def documents_are_consistent(app: Any) -> Iterator[str]:
    """Kinds unique, flags are yes/no columns, personal documents have readers and a retention period.
    (The steps named in `required_before` are checked with the screens: a step or a screen's action.)"""
    for name, model in registers().items():
        docs = documents_of(model)
        seen: set[str] = set()
        for d in docs:
            where = f"{name}.documents[{d.kind}]"
            if not isinstance(d, Document):
                yield f"{name}.documents: every entry must be a kernel.attachments.Document"
                continue
            if not re.match(r"^[a-z][a-z0-9_]{0,39}$", d.kind):
                yield f"{where}: the kind must be a short lower-case code"
            if d.kind in seen:
                yield f"{where}: declared twice"
            seen.add(d.kind)
            if not isinstance(d.label, T):
                yield f"{where}: the label must be a T(中文, English)"
            if d.flag is not None:
                col = model.__table__.c.get(d.flag)
                if col is None or not isinstance(col.type, Boolean):
                    yield f"{where}: flag '{d.flag}' is not a yes/no column"
            if d.personal:
                readers = [r for r, ops in permissions.grants().get(name, {}).items() if "reveal" in ops]
                if not readers:
                    yield f"{where}: a personal document needs a role that may see personal data (a 'reveal' grant)"
                kept = retention_of(model)
                if kept is None:
                    yield f"{where}: a personal document needs a retention period (retention or document_retention)"
                elif kept.start not in model.__table__.c:
                    yield f"{name}.document_retention: start '{kept.start}' is not a column"
        if getattr(model, "document_retention", None) is not None and not any(d.personal for d in docs):
            yield f"{name}.document_retention: the register declares no personal document"
