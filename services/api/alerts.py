"""/api/v1/orgs/{org}: alert-rules, alerts, silences (API.md > Alerts). Viewers read alerts;
editors manage rules, silences and acknowledgements."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from services.access import Access, access
from services.api.auth import OrgContext
from services.api.params import Limit, Offset
from shared.accounts.schemas import Page
from shared.alerts import rules, services
from shared.alerts.schemas import (
    AcknowledgeIn,
    AlertDetail,
    AlertOut,
    Preview,
    RuleIn,
    RuleOut,
    RulePatch,
    SilenceIn,
    SilenceOut,
)
from shared.backends import Backends


class AlertRuleController(Controller):
    path = "/orgs/{org:str}/alert-rules"
    tags = ["alerts"]

    @get("/", opt=access(Access.VIEWER))
    async def list_rules(
        self,
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[RuleOut]:
        return await rules.list_rules(backends, org_context, offset=offset, limit=limit)

    @post("/", opt=access(Access.EDITOR, audit="alert_rule.create"))
    async def create_rule(
        self,
        data: JSONBody[RuleIn],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> RuleOut:
        return await rules.create_rule(backends, org_context, data)

    @get("/{rule_id:str}", opt=access(Access.VIEWER))
    async def get_rule(
        self,
        rule_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> RuleOut:
        return await rules.get_rule(backends, org_context, rule_id)

    @put("/{rule_id:str}", opt=access(Access.EDITOR, audit="alert_rule.update"))
    async def replace_rule(
        self,
        rule_id: FromPath[str],
        data: JSONBody[RuleIn],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> RuleOut:
        return await rules.update_rule(backends, org_context, rule_id, data)

    @patch("/{rule_id:str}", opt=access(Access.EDITOR, audit="alert_rule.update"))
    async def update_rule(
        self,
        rule_id: FromPath[str],
        data: JSONBody[RulePatch],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> RuleOut:
        return await rules.update_rule(backends, org_context, rule_id, data)

    @delete("/{rule_id:str}", opt=access(Access.EDITOR, audit="alert_rule.delete"))
    async def delete_rule(
        self,
        rule_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> None:
        await rules.delete_rule(backends, org_context, rule_id)

    @post(
        "/{rule_id:str}/preview",
        status_code=HTTP_200_OK,
        opt=access(Access.EDITOR, audit_exempt="reads the clusters; stores and sends nothing"),
    )
    async def preview_rule(
        self,
        rule_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> Preview:
        return await rules.preview_rule(backends, org_context, rule_id)


class AlertController(Controller):
    path = "/orgs/{org:str}/alerts"
    tags = ["alerts"]

    @get("/", opt=access(Access.VIEWER))
    async def list_alerts(
        self,
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        # `state` is a name Litestar reserves for the app state: read under another name.
        alert_state: Annotated[
            Literal["pending", "firing", "resolved"] | None, QueryParameter(name="state")
        ] = None,
        severity: FromQuery[Literal["info", "warning", "critical"] | None] = None,
        cluster: FromQuery[str | None] = None,
        rule: FromQuery[str | None] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[AlertOut]:
        return await services.list_alerts(
            backends,
            org_context,
            state=alert_state,
            severity=severity,
            cluster=cluster,
            rule=rule,
            offset=offset,
            limit=limit,
        )

    @get("/{alert_id:str}", opt=access(Access.VIEWER))
    async def get_alert(
        self,
        alert_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> AlertDetail:
        return await services.get_alert(backends, org_context, alert_id)

    @post(
        "/{alert_id:str}/acknowledge",
        status_code=HTTP_200_OK,
        opt=access(Access.EDITOR, audit="alert.acknowledge"),
    )
    async def acknowledge_alert(
        self,
        alert_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        data: JSONBody[AcknowledgeIn | None] = None,
    ) -> AlertOut:
        comment = data.comment if data is not None else None
        return await services.acknowledge_alert(backends, org_context, alert_id, comment)


class SilenceController(Controller):
    path = "/orgs/{org:str}/silences"
    tags = ["alerts"]

    @get("/", opt=access(Access.VIEWER))
    async def list_silences(
        self,
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        include_ended: FromQuery[bool] = False,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[SilenceOut]:
        return await services.list_silences(
            backends, org_context, include_ended=include_ended, offset=offset, limit=limit
        )

    @post("/", opt=access(Access.EDITOR, audit="silence.create"))
    async def create_silence(
        self,
        data: JSONBody[SilenceIn],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> SilenceOut:
        return await services.create_silence(backends, org_context, data)

    @delete(
        "/{silence_id:str}",
        status_code=HTTP_200_OK,
        opt=access(Access.EDITOR, audit="silence.end"),
    )
    async def end_silence(
        self,
        silence_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> SilenceOut:
        return await services.end_silence(backends, org_context, silence_id)
