"""Deals (business cases): pipeline stage, value, and closing as won or lost; totals per
currency and the pipeline by stage and by salesperson."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, joinedload, lazyload

from crm import audit
from crm.errors import Conflict, ValidationError
from crm.fields import FieldSpec, codebook_entry
from crm.models import (
    CURRENCIES,
    DEAL_STATUSES,
    Activity,
    CodebookEntry,
    Deal,
    Partner,
    User,
    column_length,
    utcnow,
)
from crm.services.records import (
    SCOPE_FIELDS,
    RecordService,
    choice_filter,
    codebook_filter,
    date_filter,
    field_changes,
    int_filter,
    resolve_scope,
    scope_dict,
    visible_ref,
    write_outbox,
)
from crm.text import N_, fold, folded_key, message

TITLE_KEY = column_length(Deal, "title_key")


ALREADY_CLOSED = {"won": N_("the deal is already won"), "lost": N_("the deal is already lost")}
HAS_ACTIVITIES = N_("the deal has activities; close it as lost to keep its history")
# A pipeline board shows this many deals of a stage, closing soonest; the rest are a click away
# in the list.
BOARD_CARDS = 20


def title_filter(_session: Session, raw: str) -> ColumnElement[bool]:
    return Deal.title_key.contains(fold(raw), autoescape=True)


@dataclass(frozen=True)
class CurrencyTotal:
    """Deals of one currency: how many, their value and their probability-weighted value.
    Amounts of different currencies are never added together."""

    currency: str
    count: int
    value: Decimal
    weighted: Decimal


@dataclass
class StageColumn:
    """One stage of the pipeline board: its deals (at most BOARD_CARDS), how many there are
    and what they are worth per currency."""

    stage: CodebookEntry | None
    deals: list[Deal] = field(default_factory=list)
    count: int = 0
    totals: list[CurrencyTotal] = field(default_factory=list)


@dataclass
class SalespersonPipeline:
    """A salesperson's open deals: how many per stage, and their totals per currency."""

    salesperson: User | None
    by_stage: dict[int | None, int] = field(default_factory=dict)
    totals: list[CurrencyTotal] = field(default_factory=list)


def _amounts(deals_stmt: Select[Any]) -> Any:
    """The deals ``deals_stmt`` selects, as a subquery of just what totals read."""
    return (
        deals_stmt.with_only_columns(
            Deal.id, Deal.stage_id, Deal.salesperson_id, Deal.currency, Deal.value, Deal.probability
        )
        .order_by(None)
        .subquery()
    )


def _totals_by(
    session: Session, deals_stmt: Select[Any], *keys: str
) -> dict[tuple[Any, ...], list[CurrencyTotal]]:
    """Totals per currency of the deals ``deals_stmt`` selects, grouped by the columns
    ``keys`` too (one query); a deal without a value counts but adds nothing;
    probability-weighted = value × probability / 100."""
    sub = _amounts(deals_stmt)
    columns = [sub.c[k] for k in keys]
    rows = session.execute(
        select(
            *columns,
            sub.c.currency,
            func.count(),
            func.coalesce(func.sum(sub.c.value), 0),
            func.coalesce(func.sum(sub.c.value * func.coalesce(sub.c.probability, 0)), 0),
        )
        .group_by(*columns, sub.c.currency)
        .order_by(*columns, sub.c.currency)
    )
    found: dict[tuple[Any, ...], list[CurrencyTotal]] = {}
    for row in rows:
        *group, currency, count, value, weighted = row
        found.setdefault(tuple(group), []).append(
            CurrencyTotal(
                currency,
                count,
                Decimal(value).quantize(Decimal("0.01")),
                (Decimal(weighted) / 100).quantize(Decimal("0.01")),
            )
        )
    return found


def currency_totals(session: Session, deals_stmt: Select[Any]) -> list[CurrencyTotal]:
    """Totals per currency of the deals ``deals_stmt`` selects."""
    return _totals_by(session, deals_stmt).get((), [])


class DealService(RecordService[Deal]):
    model = Deal
    record_type = "deal"
    title_attr = "title"
    fields = (
        FieldSpec("title", "Title", required=True, max_length=200),
        FieldSpec("partner_id", "Partner", "ref", required=True),
        FieldSpec("type", "Type", "codebook", codebook="deal_type"),
        FieldSpec("stage", "Stage", "codebook", codebook="deal_stage"),
        FieldSpec("value", "Value", "decimal", minimum=0),
        FieldSpec("currency", "Currency", "choice", choices=CURRENCIES, default="CZK"),
        FieldSpec("expected_close", "Expected close", "date"),
        FieldSpec("probability", "Probability", "int", minimum=0, maximum=100),
        FieldSpec("status", "Status", "choice", choices=DEAL_STATUSES, default="open"),
        FieldSpec("close_reason", "Close reason", "codebook", codebook="close_reason"),
        FieldSpec("close_note", "Close note", "text", max_length=5000),
        *SCOPE_FIELDS,
    )
    filters = {
        "q": title_filter,
        "partner_id": int_filter(Deal.partner_id),
        "stage": codebook_filter(Deal.stage_id, "deal_stage"),
        "type": codebook_filter(Deal.type_id, "deal_type"),
        "status": choice_filter(Deal.status, DEAL_STATUSES),
        "currency": choice_filter(Deal.currency, CURRENCIES),
        "salesperson_id": int_filter(Deal.salesperson_id),
        "group_id": int_filter(Deal.group_id),
        "close_from": date_filter(Deal.expected_close, ">="),
        "close_to": date_filter(Deal.expected_close, "<="),
    }
    sort_keys = {
        "title": Deal.title_key,
        # by currency first: a list never mixes crowns with euros
        "value": (Deal.currency, Deal.value),
        "expected_close": Deal.expected_close,
        "probability": Deal.probability,
        "status": Deal.status,
        "created_at": Deal.created_at,
        "stage": select(CodebookEntry.position)
        .where(CodebookEntry.id == Deal.stage_id)
        .scalar_subquery(),
        "partner": select(Partner.name_key).where(Partner.id == Deal.partner_id).scalar_subquery(),
    }
    default_sort = "-created_at"

    def prepare(
        self, session: Session, actor: User, values: dict[str, Any], record: Deal | None
    ) -> dict[str, Any]:
        partner = None
        if "partner_id" in values and (record is None or values["partner_id"] != record.partner_id):
            partner = visible_ref(session, actor, Partner, "partner_id", values["partner_id"])
        if record is None and values.get("stage_id") is None:
            first = session.scalars(
                select(CodebookEntry)
                .where(CodebookEntry.codebook == "deal_stage", CodebookEntry.active.is_(True))
                .order_by(CodebookEntry.position)
            ).first()
            values["stage_id"] = first.id if first else None
        if record is None and values.get("probability") is None and values.get("stage_id"):
            # A new deal without a probability takes its stage's default.
            stage = session.get(CodebookEntry, values["stage_id"])
            values["probability"] = stage.probability if stage else None
        status = values.get("status", record.status if record else "open")
        reason = values.get("close_reason_id", record.close_reason_id if record else None)
        if status == "lost" and reason is None:
            raise ValidationError({"close_reason": "is required when a deal is lost"})
        if status != "open" and (record is None or record.status == "open"):
            values["closed_at"] = utcnow()
        elif status == "open":
            values["closed_at"] = None
        if partner is None and record is not None:
            partner = record.partner  # unchanged: still what the deal hangs on
        resolve_scope(session, actor, values, record, inherit=partner)
        if "title" in values:
            values["title_key"] = folded_key(values["title"], TITLE_KEY)
        return values

    def check_delete(self, session: Session, actor: User, record: Deal) -> None:
        super().check_delete(session, actor, record)
        if session.scalar(
            select(Activity.id)
            .where(Activity.deal_id == record.id, Activity.deleted_at.is_(None))
            .limit(1)
        ):
            raise Conflict(HAS_ACTIVITIES)

    def close(
        self,
        session: Session,
        actor: User,
        deal_id: int,
        data: dict[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Deal:
        """Close as won or lost with a reason and a note (the deal action "Close")."""
        deal = self.get(session, actor, deal_id)
        if deal.status != "open":
            raise Conflict(ALREADY_CLOSED[deal.status])
        errors: dict[str, str] = {}
        status = data.get("status")
        if status not in ("won", "lost"):
            errors["status"] = "must be won or lost"
        reason: CodebookEntry | None = None
        if data.get("close_reason") not in (None, ""):
            try:
                reason = codebook_entry(session, "close_reason", data["close_reason"])
            except ValueError as exc:
                errors["close_reason"] = message(exc)
        elif status == "lost":
            errors["close_reason"] = "is required when a deal is lost"
        note = data.get("close_note") or ""
        if not isinstance(note, str) or len(note) > 5000:
            errors["close_note"] = "must be text of at most 5000 characters"
        if errors:
            raise ValidationError(errors)
        self.check_version(session, deal, expected_version)  # after the input's own errors
        changes = field_changes(
            deal,
            {
                "status": str(status),
                "close_reason_id": reason.id if reason else None,
                "close_note": note,
                "probability": 100 if status == "won" else 0,
            },
        )
        audit.record(session, actor, "update", self.record_type, deal.id, changes)
        deal.status = str(status)
        deal.close_reason = reason
        deal.close_note = note
        deal.closed_at = utcnow()
        write_outbox(
            session,
            self.record_type,
            deal.id,
            "update",
            payload={"fields": sorted({*changes, "closed_at"})},
        )
        if status == "won":
            deal.probability = 100
        else:
            deal.probability = 0
        deal.updated_by_id = actor.id
        self.flush_versioned(session, deal)  # UPDATE ... WHERE version = (issue 9 §6)
        return deal

    def totals(
        self, session: Session, actor: User, filters: Mapping[str, str]
    ) -> list[CurrencyTotal]:
        """What the deals a list shows (``filters``) are worth, per currency."""
        stmt, errors = self.filtered(session, actor, filters)
        if errors:
            raise ValidationError(errors)
        return currency_totals(session, stmt)

    def stages(self, session: Session) -> list[CodebookEntry]:
        return list(
            session.scalars(
                select(CodebookEntry)
                .where(CodebookEntry.codebook == "deal_stage", CodebookEntry.active.is_(True))
                .order_by(CodebookEntry.position, CodebookEntry.id)
            )
        )

    def pipeline(
        self, session: Session, actor: User, filters: Mapping[str, str], cards: int = BOARD_CARDS
    ) -> list[StageColumn]:
        """The open deals ``actor`` sees (narrowed by ``filters``) by stage, in the stages'
        order; a deal in a stage since made inactive keeps its column; deals without a stage
        come last. Each column holds the ``cards`` deals closing soonest."""
        stmt, errors = self.filtered(session, actor, {**filters, "status": "open"})
        if errors:
            raise ValidationError(errors)
        columns: dict[int | None, StageColumn] = {
            s.id: StageColumn(s) for s in self.stages(session)
        }
        for (stage_id,), totals in _totals_by(session, stmt, "stage_id").items():
            if stage_id not in columns:
                stage = session.get(CodebookEntry, stage_id) if stage_id else None
                columns[stage_id] = StageColumn(stage)
            columns[stage_id].totals = totals
            columns[stage_id].count = sum(t.count for t in totals)
        if cards:
            # each stage's first ``cards`` by expected close, in one query
            place = (
                func.row_number()
                .over(
                    partition_by=Deal.stage_id,
                    order_by=(Deal.expected_close.asc().nulls_last(), Deal.id.asc()),
                )
                .label("place")
            )
            ranked = stmt.with_only_columns(Deal.id, place).order_by(None).subquery()
            ids = list(session.scalars(select(ranked.c.id).where(ranked.c.place <= cards)))
            shown = session.scalars(
                select(Deal)
                .where(Deal.id.in_(ids))
                # a card names its partner and salesperson, nothing else it hangs on
                .options(
                    lazyload("*"),
                    joinedload(Deal.partner).lazyload("*"),
                    joinedload(Deal.salesperson).lazyload("*"),
                )
                .order_by(Deal.expected_close.asc().nulls_last(), Deal.id.asc())
            ).unique()
            for deal in shown:
                columns[deal.stage_id].deals.append(deal)
        return list(columns.values())

    def by_salesperson(
        self, session: Session, actor: User, filters: Mapping[str, str]
    ) -> list[SalespersonPipeline]:
        """Each salesperson's open deals that ``actor`` sees: counts per stage and totals per
        currency, for a sales manager's overview."""
        stmt, errors = self.filtered(session, actor, {**filters, "status": "open"})
        if errors:
            raise ValidationError(errors)
        people: dict[int | None, SalespersonPipeline] = {}

        def row(user_id: int | None) -> SalespersonPipeline:
            if user_id not in people:
                user = session.get(User, user_id) if user_id else None
                people[user_id] = SalespersonPipeline(user)
            return people[user_id]

        for (user_id, stage_id), totals in _totals_by(
            session, stmt, "salesperson_id", "stage_id"
        ).items():
            row(user_id).by_stage[stage_id] = sum(t.count for t in totals)
        for (user_id,), totals in _totals_by(session, stmt, "salesperson_id").items():
            row(user_id).totals = totals

        def by_name(p: SalespersonPipeline) -> tuple[bool, str]:
            return p.salesperson is None, fold(p.salesperson.name) if p.salesperson else ""

        return sorted(people.values(), key=by_name)

    def as_dict(self, record: Deal) -> dict[str, Any]:
        out = super().as_dict(record)
        out["partner"] = record.partner.name
        out["closed_at"] = record.closed_at.isoformat() if record.closed_at else None
        out.update(scope_dict(record))
        return out


deals = DealService()
