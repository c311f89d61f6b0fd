"""Excel (.xlsx) and CSV import/export of KB entries, with a per-row validation report.

One row is one entry. Columns (header names in Chinese as exported, or the English keys):

=========  ===================  ==============================================================
条目ID     id                   empty for a new entry (an id ``kb-NNN`` is assigned)
分类       category             required
标准问     standard_question    required
相似问     similar_questions    one per line (at least 4)
答案       answer               answer text, required
按钮       buttons              one per line: ``标题|/intent`` or ``标题|/faq{"kb_entry_id":"…"}``
链接       links                one per line: ``标题|https://…``
图片       image                image URL
标签       tags                 separated by , ， 、 ; or new lines
渠道       channels             web / app / wechat (or 网页 / App / 微信); empty = all
生效日期   valid_from           YYYY-MM-DD (optional)
失效日期   valid_to             YYYY-MM-DD (optional)
状态       status               published / archived (or 上线 / 下线); empty = published
英文答案   answer_en            English answer text, optional (issue 19)
英文标准问 question_en          English title of the entry, optional (issue 19)
按钮英文   buttons_en           one per line: ``English title|payload`` (a payload of 按钮),
                                optional (issue 19)
链接英文   links_en             one per line: ``English title|https://…`` (a URL of 链接),
                                optional (issue 19)
=========  ===================  ==============================================================

A file without one of the English columns (written before issue 19, or trimmed by hand) keeps
the English the KB already has for an entry it updates (buttons matched by payload, links by
URL); a present but empty cell clears it.

An import is all-or-nothing: every row is checked (missing fields, format, duplicates inside
the file, a question that already belongs to another entry of the KB, buttons pointing at
unknown entries) and either all rows become drafts or nothing changes and the report names
every bad row (spreadsheet row numbers: the header is row 1).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from knowledge_base.content.editor import Problem, entry_problems
from knowledge_base.content.entries import ENTRY_ID_RE, Entry, normalize_question
from knowledge_base.content.errors import EditError, ErrorKind

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "条目ID"),
    ("category", "分类"),
    ("standard_question", "标准问"),
    ("similar_questions", "相似问"),
    ("answer", "答案"),
    ("buttons", "按钮"),
    ("links", "链接"),
    ("image", "图片"),
    ("tags", "标签"),
    ("channels", "渠道"),
    ("valid_from", "生效日期"),
    ("valid_to", "失效日期"),
    ("status", "状态"),
    ("answer_en", "英文答案"),  # last: files written before issue 19 keep their column order
    ("question_en", "英文标准问"),  # after answer_en: files with only answer_en still import
    ("buttons_en", "按钮英文"),  # the English titles of 按钮 / 链接, matched by payload / URL
    ("links_en", "链接英文"),
)
REQUIRED = ("category", "standard_question", "answer")
COLUMN_LABELS = dict(COLUMNS)
_HEADER_KEYS = {**{k: k for k, _ in COLUMNS}, **{zh: k for k, zh in COLUMNS}}
_LIST_SPLIT = re.compile(r"[,，、;；\n]+")
_PAIR_SPLIT = re.compile(r"\s*[|｜]\s*")
CHANNEL_ALIASES = {"web": "web", "网页": "web", "网站": "web", "app": "app", "手机银行": "app",
                   "wechat": "wechat", "微信": "wechat", "公众号": "wechat"}
STATUS_ALIASES = {"": "published", "published": "published", "上线": "published",
                  "已发布": "published", "启用": "published", "archived": "archived",
                  "下线": "archived", "已下线": "archived", "停用": "archived"}
# Cells starting with these are formulas to Excel: exported with a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@dataclass
class RowError:
    row: int
    field: str
    message: str
    message_en: str
    entry_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "entry_id": self.entry_id, "field": self.field,
                "column": COLUMN_LABELS.get(self.field, ""),
                "message": self.message, "message_en": self.message_en}


@dataclass
class ImportReport:
    """Outcome of validating a file: the entries to write, or the problems per row."""

    rows_total: int = 0
    entries: list[Entry] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    new_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.rows_total > 0

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows_total": self.rows_total,
                "valid_rows": self.rows_total - len(self.bad_rows),
                "bad_rows": self.bad_rows, "errors": [e.as_dict() for e in self.errors]}


# ---------------------------------------------------------------------------- reading files


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    if text.startswith("'") and text[1:2] in _FORMULA_START:
        text = text[1:]
    return text


def read_table(content: bytes, filename: str) -> list[list[str]]:
    """Rows of the first sheet (xlsx) or of a CSV file (UTF-8 with/without BOM, or GB18030)."""
    kind = file_kind(filename)
    if kind == "xlsx":
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise EditError(ErrorKind.INVALID,
                            "invalid_file", "无法读取该 Excel 文件，请上传 .xlsx 格式。",
                            f"Cannot read the .xlsx file: {exc}") from exc
        try:
            sheet = workbook.worksheets[0]
            return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise EditError(ErrorKind.INVALID, "invalid_file", "CSV 文件编码无法识别，请另存为 UTF-8。",
                        "CSV must be UTF-8 (or GB18030) encoded.")
    try:
        return [[_cell_text(v) for v in row] for row in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise EditError(ErrorKind.INVALID, "invalid_file", "CSV 文件格式有误。",
                        f"Malformed CSV: {exc}") from exc


def file_kind(filename: str) -> str:
    name = filename.lower()
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith(".csv"):
        return "csv"
    raise EditError(ErrorKind.INVALID, "unsupported_file", "只支持 .xlsx 或 .csv 文件。",
                    "Only .xlsx and .csv files are supported.")


def _split_lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def _pairs(text: str, kind: str, row: int, errors: list[RowError]) -> list[dict[str, str]]:
    """``title|value`` lines of a 按钮 / 链接 cell (``kind`` buttons, links) or of their English
    columns (buttons_en, links_en)."""
    is_button = kind.startswith("buttons")
    english = kind.endswith("_en")
    out = []
    for line in _split_lines(text):
        parts = _PAIR_SPLIT.split(line, maxsplit=1)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            label = ("按钮" if is_button else "链接") + ("英文" if english else "")
            example = ("English title" if english else "标题") + (
                "|/intent" if is_button else "|https://…")
            errors.append(RowError(row, kind, f"{label}“{line}”格式应为 {example}",
                                   f"{kind} line {line!r} must be 'title|value'"))
            continue
        key = "payload" if is_button else "url"
        out.append({"title": parts[0], key: parts[1]})
    return out


def row_to_data(cells: dict[str, str], row: int, errors: list[RowError]) -> dict[str, Any]:
    """Store-shaped entry data of one row; format problems are appended to ``errors``."""
    for name in REQUIRED:
        if not cells.get(name):
            label = dict(COLUMNS)[name]
            errors.append(RowError(row, name, f"缺少{label}", f"missing {name}"))
    similar = _split_lines(cells.get("similar_questions", ""))
    channels = []
    for raw in _LIST_SPLIT.split(cells.get("channels", "")):
        raw = raw.strip()
        if not raw:
            continue
        code = CHANNEL_ALIASES.get(raw.lower())
        if code is None:
            errors.append(RowError(row, "channels", f"渠道“{raw}”不认识（可填 web、app、wechat）",
                                   f"unknown channel {raw!r}"))
        elif code not in channels:
            channels.append(code)
    status = STATUS_ALIASES.get(cells.get("status", "").strip().lower())
    if status is None:
        errors.append(RowError(row, "status", f"状态“{cells.get('status')}”只能是 上线 或 下线",
                               f"unknown status {cells.get('status')!r}"))
    data: dict[str, Any] = {
        "id": cells.get("id") or None,
        "category": cells.get("category", ""),
        "question": cells.get("standard_question", ""),
        "similar": similar,
        "answer_en": cells.get("answer_en") or None,
        "question_en": cells.get("question_en") or None,
        "answer": {"text": cells.get("answer", ""),
                   "buttons": _pairs(cells.get("buttons", ""), "buttons", row, errors),
                   "links": _pairs(cells.get("links", ""), "links", row, errors),
                   "image": cells.get("image") or None},
        "tags": [t.strip() for t in _LIST_SPLIT.split(cells.get("tags", "")) if t.strip()],
        "status": status or "published",
        "valid_from": cells.get("valid_from") or None,
        "valid_to": cells.get("valid_to") or None,
    }
    if channels:
        data["channels"] = channels
    for kind, key in (("buttons", "payload"), ("links", "url")):
        if f"{kind}_en" in cells:
            _attach_english(data["answer"][kind], key, cells[f"{kind}_en"], kind, row, errors)
    return data


def _attach_english(items: list[dict[str, Any]], key: str, text: str, kind: str, row: int,
                    errors: list[RowError]) -> None:
    """Set ``title_en`` on the row's buttons (``key`` payload) or links (``key`` url) from an
    English column's ``English title|payload`` lines; an item with no line gets none."""
    by_value = {item[key]: item for item in items}
    for item in items:
        item["title_en"] = None
    for pair in _pairs(text, f"{kind}_en", row, errors):
        value = pair[key]
        if value not in by_value:
            label = "按钮" if kind == "buttons" else "链接"
            errors.append(RowError(row, f"{kind}_en",
                                   f"{label}英文“{pair['title']}|{value}”对应的{label}不在“{label}”列中",
                                   f"{kind}_en line {value!r} matches no {kind[:-1]} of the row"))
            continue
        by_value[value]["title_en"] = pair["title"]


def parse_rows(rows: Sequence[Sequence[str]]) -> tuple[list[tuple[int, dict[str, str]]],
                                                       list[RowError]]:
    """Map the header to column keys; return (spreadsheet row number, cells) per data row."""
    if not rows:
        return [], [RowError(1, "header", "文件是空的", "the file is empty")]
    header = [_HEADER_KEYS.get(h.strip().split(" ")[0].strip(), "") for h in rows[0]]
    missing = [dict(COLUMNS)[k] for k in ("category", "standard_question", "similar_questions",
                                          "answer") if k not in header]
    if missing:
        return [], [RowError(1, "header", "表头缺少列：" + "、".join(missing),
                             "header lacks columns: " + ", ".join(missing))]
    out = []
    for number, raw in enumerate(rows[1:], start=2):
        cells = {key: (raw[i] if i < len(raw) else "") for i, key in enumerate(header) if key}
        if any(cells.values()):
            out.append((number, cells))
    return out, []


# ---------------------------------------------------------------------------- validation


def validate_import(rows: Sequence[Sequence[str]], existing: dict[str, Entry], next_id: int,
                    max_rows: int) -> ImportReport:
    """Check every row; ``existing`` is the KB's working copy (id -> entry)."""
    report = ImportReport()
    parsed, header_errors = parse_rows(rows)
    report.rows_total = len(parsed)
    if header_errors:
        report.errors.extend(header_errors)
        return report
    if not parsed:
        report.errors.append(RowError(2, "rows", "文件里没有数据行", "the file has no data rows"))
        return report
    if len(parsed) > max_rows:
        report.errors.append(RowError(max_rows + 2, "rows",
                                      f"一次最多导入 {max_rows} 行，本文件有 {len(parsed)} 行",
                                      f"at most {max_rows} rows per import"))
        return report

    located: list[tuple[int, Entry]] = []
    given_ids: dict[int, str | None] = {}  # row -> the id the file gave (None: new entry)
    seen_ids: dict[str, int] = {}
    counter = next_id
    for number, cells in parsed:
        errors: list[RowError] = []
        data = row_to_data(cells, number, errors)
        given = data["id"]
        # A file without the 英文答案 / 英文标准问 column (written before issue 19, or trimmed by
        # hand) says nothing about that English text: keep it. A present but empty cell clears it.
        for english_field in ("answer_en", "question_en"):
            if english_field not in cells and given in existing:
                data[english_field] = getattr(existing[given], english_field)
        if given in existing:
            _keep_english_titles(data["answer"], cells, existing[given])
        if given:
            if not ENTRY_ID_RE.match(given):
                errors.append(RowError(number, "id", f"条目ID“{given}”格式不对（例如 repay-001）",
                                       f"malformed id {given!r}"))
            elif given in seen_ids:
                first = seen_ids[given]
                errors.append(RowError(number, "id", f"条目ID {given} 与第 {first} 行重复",
                                       f"id {given} repeats row {first}"))
            else:
                seen_ids[given] = number
        if not errors:
            if not given:
                data["id"] = f"kb-{counter:03d}"
                counter += 1
            try:
                located.append((number, Entry.model_validate(data)))
                if not given:
                    report.new_ids.append(data["id"])
            except ValidationError as exc:
                errors.extend(_row_problems(number, exc))
        for e in errors:
            e.entry_id = given or None
        given_ids[number] = given or None
        report.errors.extend(errors)

    # Duplicates inside the file and against the KB (entries replaced by the file excluded).
    in_file = {e.id for _, e in located}
    owners: dict[str, tuple[str, str]] = {}
    for other in existing.values():
        if other.id in in_file:
            continue
        for q in other.questions:
            owners.setdefault(normalize_question(q), (other.id, q))
    file_questions: dict[str, tuple[int, str]] = {}
    known_ids = set(existing) | in_file
    for number, entry in located:
        for index, q in enumerate(entry.questions):
            key = normalize_question(q)
            where = "standard_question" if index == 0 else "similar_questions"
            if key in owners:
                other_id, other_q = owners[key]
                report.errors.append(RowError(
                    number, where, f"问题“{q}”已属于知识库中的条目 {other_id}（{other_q}）",
                    f"question {q!r} belongs to entry {other_id}", given_ids[number]))
            elif key in file_questions and file_questions[key][0] != number:
                first_row, first_q = file_questions[key]
                report.errors.append(RowError(
                    number, where, f"问题“{q}”与第 {first_row} 行的“{first_q}”重复",
                    f"question {q!r} repeats row {first_row}", given_ids[number]))
            else:
                file_questions.setdefault(key, (number, q))
        for button in entry.answer.buttons:
            target = button.target_entry()
            if target is not None and target not in known_ids:
                report.errors.append(RowError(
                    number, "buttons", f"按钮“{button.title}”指向不存在的条目 {target}",
                    f"button {button.title!r} points at unknown entry {target}",
                    given_ids[number]))
    report.errors.sort(key=lambda e: e.row)
    if not report.errors:
        report.entries = [e for _, e in located]
    return report


def _keep_english_titles(answer: dict[str, Any], cells: dict[str, str], old: Entry) -> None:
    """Without the 按钮英文 / 链接英文 column, the buttons and links of an updated entry keep
    the English titles they had (matched by payload / URL)."""
    if "buttons_en" not in cells:
        titles = {b.payload: b.title_en for b in old.answer.buttons if b.title_en}
        for button in answer["buttons"]:
            button.setdefault("title_en", titles.get(button["payload"]))
    if "links_en" not in cells:
        titles = {lk.url: lk.title_en for lk in old.answer.links if lk.title_en}
        for link in answer["links"]:
            link.setdefault("title_en", titles.get(link["url"]))


def _row_problems(row: int, exc: ValidationError) -> list[RowError]:
    problems: list[Problem] = entry_problems(exc)
    renamed = {"answer.text": "answer", "answer.buttons": "buttons", "answer.links": "links",
               "answer.image": "image"}
    out = []
    for p in problems:
        name = p.field.split(".")[0] if not p.field.startswith("answer.") else \
            renamed.get(".".join(p.field.split(".")[:2]), "answer")
        out.append(RowError(row, name, p.message, p.message_en))
    return out


# ---------------------------------------------------------------------------- export


def _safe(text: str) -> str:
    """Keep spreadsheet apps from evaluating a cell as a formula."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def entry_row(entry: Entry) -> list[str]:
    answer = entry.answer
    values = {
        "id": entry.id, "category": entry.category, "standard_question": entry.question,
        "similar_questions": "\n".join(entry.similar), "answer": answer.text,
        "answer_en": entry.answer_en or "",
        "question_en": entry.question_en or "",
        "buttons": "\n".join(f"{b.title}|{b.payload}" for b in answer.buttons),
        "links": "\n".join(f"{lk.title}|{lk.url}" for lk in answer.links),
        "buttons_en": "\n".join(f"{b.title_en}|{b.payload}" for b in answer.buttons
                                 if b.title_en),
        "links_en": "\n".join(f"{lk.title_en}|{lk.url}" for lk in answer.links if lk.title_en),
        "image": answer.image or "", "tags": "、".join(entry.tags),
        "channels": ",".join(entry.channels),
        "valid_from": entry.valid_from.isoformat() if entry.valid_from else "",
        "valid_to": entry.valid_to.isoformat() if entry.valid_to else "",
        "status": entry.status,
    }
    return [_safe(values[key]) for key, _ in COLUMNS]


def export_csv(entries: Iterable[Entry]) -> bytes:
    """UTF-8 CSV with a BOM (so Excel shows Chinese correctly)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([zh for _, zh in COLUMNS])
    for entry in entries:
        writer.writerow(entry_row(entry))
    return buffer.getvalue().encode("utf-8-sig")


def export_xlsx(entries: Iterable[Entry]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "知识库"
    sheet.append([zh for _, zh in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for entry in entries:
        sheet.append(entry_row(entry))
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = wrap
    widths = {"id": 14, "category": 16, "standard_question": 28, "similar_questions": 36,
              "answer": 60, "answer_en": 60, "question_en": 28, "buttons": 30, "links": 30,
              "buttons_en": 30, "links_en": 30,
              "image": 24, "tags": 16,
              "channels": 16, "valid_from": 12, "valid_to": 12, "status": 10}
    for index, (key, _) in enumerate(COLUMNS):
        sheet.column_dimensions[sheet.cell(row=1, column=index + 1).column_letter].width = \
            widths[key]
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
