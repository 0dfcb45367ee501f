"""web: the schemas every HTTP module shares — the envelope, strict field types, and the campaign plan.

They validate the requests and dump the answers, and the OpenAPI document is generated from them,
so what is documented is what is enforced. Field names are the buyer API's own (camelCase; ADCP's
snake_case inside optimization goals), so a loaded body has the keys the client sent.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from functools import cache

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..domain import plans
from ..domain.campaigns import CAMPAIGN_STATUSES
from ..domain.cascades import CascadeState
from ..domain.goals import METRICS, TARGETS_BY_GOAL_KIND, goal_errors
from ..domain.packages import PackageStatus
from ..domain.statuses import Status

# Ids in paths: what our own ids and the agents' registered ids are made of (not starting with a dot,
# so no id is a `.` or `..` path segment).
ID_PATTERN = r"[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}"
AGENT_ID_PATTERN = r"[A-Za-z0-9_.-]{1,64}"  # sales_agents.id's CHECK
MAX_MONEY = Decimal("999999999999.99")  # numeric(14, 2)
MAX_BID = Decimal("9999999999.9999")  # numeric(14, 4)
# Times outside these years are surely a mistake, and PostgreSQL returns a year past 9999 that Python
# cannot load.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


# --- field types -------------------------------------------------------------------------------------


class Strict(Schema):
    """A request part: an unknown field is an error (and documented as additionalProperties: false)."""

    class Meta:
        unknown = RAISE


def Text(max_length: int = 255, **kwargs) -> fields.String:  # noqa: N802 - reads as a field type
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


class Number(fields.Float):
    """A JSON number, never a numeric string (marshmallow would cast one)."""

    def _validated(self, value):
        if isinstance(value, str):
            raise self.make_error("invalid")
        return super()._validated(value)


def Count(**kwargs) -> fields.Integer:  # noqa: N802 - reads as a field type
    """A JSON integer: not a string, not 5.0."""
    return fields.Integer(strict=True, **kwargs)


class Money(fields.Decimal):
    """An amount: a JSON number with at most `places` decimals, loaded as a Decimal, dumped as a number.

    Decimal so that sums and comparisons are exact; from the number's shortest repr, so 19.99 is 19.99.
    """

    def __init__(self, *, places: int = 2, maximum: Decimal = MAX_MONEY, positive: bool = True, **kwargs):
        self.max_places = places
        kwargs.setdefault("validate", validate.Range(min=0, min_inclusive=not positive, max=maximum))
        metadata = {"description": f"An amount, at most {places} decimal places."}
        if positive:
            metadata["exclusiveMinimum"] = 0
        kwargs["metadata"] = {**metadata, **kwargs.get("metadata", {})}
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise self.make_error("special")
        if amount.as_tuple().exponent < -self.max_places:
            raise ValidationError(f"At most {self.max_places} decimal places.")
        return amount

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)


class Moment(fields.AwareDateTime):
    """An RFC 3339 date-time with its offset, within sensible years."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        # RFC 3339 allows a lower-case t and z; Python's parser does not
        moment = super()._deserialize(value.upper() if isinstance(value, str) else value, attr, data, **kwargs)
        if not EARLIEST <= moment < LATEST:
            raise ValidationError(f"Must be between {EARLIEST.year} and {LATEST.year}.")
        return moment


class NullField(fields.Raw):
    """Always null: `error` in an answer, `data` in an error."""

    def __init__(self, **kwargs):
        super().__init__(required=True, dump_default=None, metadata={"type": "null"}, **kwargs)


class FullMatch(validate.Regexp):
    """The whole value matches (`$` alone would let a trailing newline through); documented as the
    anchored pattern, which JSON Schema reads the same way."""

    def __init__(self, pattern: str, **kwargs):
        super().__init__(f"^(?:{pattern})$", **kwargs)

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


# --- the envelope --------------------------------------------------------------------------------------


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "VALIDATION_ERROR, NOT_FOUND, …"})
    message = fields.String(required=True)
    field = fields.String(metadata={"description": "The (first) field the error is about, as a dotted path."})
    details = fields.Raw(
        allow_none=True,
        metadata={"description": "Validation errors: {location, fields: {dotted path: [messages]}}."},
    )


class ErrorEnvelope(Schema):
    """Every error answer."""

    data = NullField()
    error = fields.Nested(ErrorBody, required=True)


@cache
def envelope_of(schema_class: type[Schema], many: bool = False) -> type[Schema]:
    """The answer schema {"data": <schema>, "error": null} (one class per schema, so one component)."""
    data = fields.List(fields.Nested(schema_class), required=True) if many else fields.Nested(schema_class, required=True)
    name = schema_class.__name__.removesuffix("Schema") + ("List" if many else "") + "Envelope"
    return Schema.from_dict({"data": data, "error": NullField()}, name=name)


# --- the campaign plan (requests and answers) --------------------------------------------------------------


class FlightDates(Strict):
    startDate = Moment(required=True)
    endDate = Moment(required=True)

    @validates_schema
    def _ends_after_start(self, data, **kwargs):
        error = plans.flight_error(data["startDate"], data["endDate"])
        if error:
            raise ValidationError({"endDate": [error]})


class Budget(Strict):
    total = Money(required=True)
    currency = fields.String(required=True, validate=FullMatch("[A-Z]{3}"), metadata={"description": "ISO 4217, e.g. USD."})
    dailyCap = Money(allow_none=True)
    pacing = fields.String(allow_none=True, validate=validate.OneOf(plans.CAMPAIGN_PACING))

    @validates_schema
    def _cap_within_total(self, data, **kwargs):
        error = plans.daily_cap_error(data.get("dailyCap"), data["total"])
        if error:
            raise ValidationError({"dailyCap": [error]})


class BudgetChange(Budget):
    """A budget on update: only `total` is required; what it does not name keeps its stored value."""

    currency = fields.String(validate=FullMatch("[A-Z]{3}"),
                             metadata={"description": "ISO 4217; omitted: the campaign's currency is kept."})


class PacingPeriod(Strict):
    label = Text(required=True)
    startTime = Moment(required=True)
    endTime = Moment(required=True)
    budget = Money(allow_none=True)


class ProductSelection(Strict):
    salesAgentId = fields.String(required=True, validate=FullMatch(AGENT_ID_PATTERN),
                                 metadata={"description": "A registered sales agent."})
    productId = Text(required=True)
    budget = Money(required=True)
    pacing = fields.String(allow_none=True, validate=validate.OneOf(plans.PACKAGE_PACING))
    bidPrice = Money(allow_none=True, places=4, maximum=MAX_BID)
    pricingOptionId = Text(allow_none=True)
    formats = fields.List(Text(), required=True, validate=validate.Length(min=1, max=50),
                          metadata={"description": "The creative formats the product accepts."})
    pacingPeriods = fields.List(fields.Nested(PacingPeriod), validate=validate.Length(max=100),
                                metadata={"description": "One package per period at execute; none: one package."})


class Creative(Strict):
    creativeId = Text(required=True)
    format = Text(required=True)
    name = Text(allow_none=True)


class FrequencyCap(Strict):
    maxImpressions = Count(required=True, validate=validate.Range(min=1, max=1_000_000_000))
    per = fields.String(required=True, validate=validate.OneOf(plans.FREQUENCY_PERIODS))


class EventSource(Strict):
    event_source_id = Text(required=True)
    event_type = Text(required=True)
    value_field = Text(allow_none=True)


class GoalTarget(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(sorted(set().union(*TARGETS_BY_GOAL_KIND.values()))))
    value = Number(allow_none=True, allow_nan=False)


class OptimizationGoal(Strict):
    """An event goal (event_sources) or a metric goal (metric); domain/goals.py says which targets fit."""

    kind = fields.String(required=True, validate=validate.OneOf(sorted(TARGETS_BY_GOAL_KIND)))
    event_sources = fields.List(fields.Nested(EventSource), validate=validate.Length(max=50))
    metric = fields.String(validate=validate.OneOf(sorted(METRICS)))
    target = fields.Nested(GoalTarget)

    @validates_schema
    def _fits_the_rules(self, data, **kwargs):
        errors = goal_errors(data)
        if errors:
            raise ValidationError(errors)


class CreateCampaign(Strict):
    """POST /campaigns: a DRAFT campaign; its media buys are made when it is executed."""

    advertiserId = Text(128, required=True, metadata={"description": "Must be your API key's advertiser."})
    name = Text(required=True)
    flightDates = fields.Nested(FlightDates, required=True)
    budget = fields.Nested(Budget, required=True)
    products = fields.List(fields.Nested(ProductSelection), required=True, validate=validate.Length(min=1, max=100))
    creatives = fields.List(fields.Nested(Creative), required=True, validate=validate.Length(max=500),
                            metadata={"description": "The campaign's creative manifest."})
    propertyList = fields.Dict(keys=fields.String(), allow_none=True, metadata={"description": "Kept as given."})
    frequencyCaps = fields.List(fields.Nested(FrequencyCap), validate=validate.Length(max=20))
    optimizationGoals = fields.List(fields.Nested(OptimizationGoal), validate=validate.Length(max=20))

    # Runs even when some fields failed, so one answer names every bad field it can. A failed part
    # is there partially (marshmallow keeps what loaded, list positions included): use what is there.
    @validates_schema(skip_on_field_errors=False)
    def _plan_rules(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        flight = data.get("flightDates") or {}
        products = [p if isinstance(p, dict) else {} for p in data.get("products") or []]
        creatives = [c if isinstance(c, dict) else {} for c in data.get("creatives") or []]
        for p, product in enumerate(products):
            periods = [q if isinstance(q, dict) else {} for q in product.get("pacingPeriods") or []]
            for q, period in enumerate(periods):
                times = (period.get("startTime"), period.get("endTime"), flight.get("startDate"), flight.get("endDate"))
                if all(times):
                    problems = plans.period_errors(*times)
                    if problems:
                        errors[f"products.{p}.pacingPeriods.{q}"] = problems
            if product.get("budget") is not None:
                error = plans.periods_budget_error((q.get("budget") for q in periods), product["budget"])
                if error:
                    errors[f"products.{p}.pacingPeriods"] = [error]
        keys = [(x["salesAgentId"], x["productId"]) if "salesAgentId" in x and "productId" in x else None
                for x in products]
        for p in plans.repeated(keys):
            errors[f"products.{p}.productId"] = ["This product of this sales agent is selected twice."]
        for c in plans.repeated(x.get("creativeId") for x in creatives):
            errors[f"creatives.{c}.creativeId"] = ["This creative is in the manifest twice."]
        if products and all(x.get("formats") for x in products):
            for c in plans.unplaceable_creatives((x.get("format") for x in creatives), (x["formats"] for x in products)):
                errors[f"creatives.{c}.format"] = ["No selected product accepts this format."]
        if errors:
            raise ValidationError(errors)


class Delivery(Schema):
    impressions = fields.Integer(required=True)
    spend = Money(required=True, positive=False)
    clicks = fields.Integer(required=True)


class PacingPeriodRef(Schema):
    index = fields.Integer(required=True)
    label = fields.String(allow_none=True)


class Package(Schema):
    packageId = fields.String(required=True)
    adcpPackageId = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": [status.value for status in PackageStatus]})
    budget = Money(allow_none=True, positive=False)
    budgetCurrency = fields.String(allow_none=True)
    pacing = fields.String(allow_none=True)
    bidPrice = Money(allow_none=True, places=4, maximum=MAX_BID, positive=False)
    productId = fields.String(required=True)
    pacingPeriod = fields.Nested(PacingPeriodRef, required=True)
    startTime = fields.DateTime(allow_none=True)
    endTime = fields.DateTime(allow_none=True)
    delivery = fields.Nested(Delivery, required=True)


class MediaBuy(Schema):
    mediaBuyId = fields.String(required=True)
    salesAgentId = fields.String(required=True)
    adcpMediaBuyId = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": [s.value for s in Status]})
    adcpStatus = fields.String(allow_none=True)
    statusAsOf = fields.DateTime(allow_none=True)
    delivery = fields.Nested(Delivery, required=True)
    packages = fields.List(fields.Nested(Package), required=True)


class MediaBuyStatus(Schema):
    surfacedStatus = fields.String(allow_none=True, metadata={
        "description": "The most restrictive status of the campaign's media buys; null while it has none."})
    blockers = fields.List(fields.String(), required=True,
                           metadata={"description": "The media buys that decide surfacedStatus."})
    asOf = fields.DateTime(allow_none=True)


class CampaignSummary(Schema):
    campaignId = fields.String(required=True)
    advertiserId = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "enum": [s.value for s in Status],
        "description": "The status the campaign reports: the most restrictive status of its media buys "
                       "(mediaBuyStatus.surfacedStatus), or its lifecycleStatus while it has none (a DRAFT)."})
    lifecycleStatus = fields.String(required=True, metadata={
        "enum": list(CAMPAIGN_STATUSES),
        "description": "The buyer's lifecycle: DRAFT until executed, ACTIVE / PAUSED by the buyer's actions, "
                       "COMPLETED once the flight is over and every buy is done, ARCHIVED when archived."})
    flightDates = fields.Nested(FlightDates, allow_none=True)
    budget = fields.Nested(Budget, allow_none=True)
    mediaBuyStatus = fields.Nested(MediaBuyStatus, required=True)
    createdAt = fields.DateTime(required=True)
    updatedAt = fields.DateTime(required=True)


class CascadeSummary(Schema):
    """A buyer action carried to the campaign's media buys (execute, pause, …): how far it got."""

    cascadeId = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": ["execute", "pause", "reactivate", "update", "creatives",
                                                          "property_list", "frequency_caps"]})
    state = fields.String(required=True, metadata={"enum": [state.value for state in CascadeState]})
    total = fields.Integer(required=True, metadata={"description": "Media buys it concerns."})
    succeeded = fields.Integer(required=True)
    failed = fields.Integer(required=True, metadata={
        "description": "Failed, or unconfirmed: answered done, but the seller's buy did not show it in time."})
    pending = fields.Integer(required=True)
    createdAt = fields.DateTime(required=True)
    finishedAt = fields.DateTime(allow_none=True)


class Campaign(CampaignSummary):
    products = fields.List(fields.Nested(ProductSelection), required=True)
    creatives = fields.List(fields.Nested(Creative), required=True)
    propertyList = fields.Dict(allow_none=True)
    frequencyCaps = fields.List(fields.Nested(FrequencyCap), required=True)
    optimizationGoals = fields.List(fields.Nested(OptimizationGoal), required=True)
    mediaBuys = fields.List(fields.Nested(MediaBuy), required=True,
                            metadata={"description": "One per sales agent, made when the campaign is executed."})
    cascades = fields.List(fields.Nested(CascadeSummary), metadata={
        "description": "The latest actions carried to the media buys (execute, pause, …), newest first."})
