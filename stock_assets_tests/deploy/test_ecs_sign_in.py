"""deploy/ecs sign-in: nobody reaches a webserver without signing in, over HTTPS only, and
only the operators' group reaches the full UI; viewers get the read-only one.

The template is read once per identity provider (cognito, oidc) with its conditions
evaluated, so each assertion holds for what CloudFormation would actually create.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import boto3
import pytest

from stock_assets_tests.deploy.test_ecs_template import _resources, _template

PROVIDERS = ("cognito", "oidc")
AUTHENTICATE = {"cognito": "authenticate-cognito", "oidc": "authenticate-oidc"}
CURRENT_TLS_POLICIES = {
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
}
NO_VALUE = object()


def _condition(expression: Any, parameters: dict[str, str], conditions: dict) -> Any:
    """Evaluate a condition expression (Fn::Equals/Not/And/Or, Ref, Condition)."""
    if not isinstance(expression, dict):
        return expression
    ((function, argument),) = expression.items()
    values = argument if isinstance(argument, list) else [argument]

    def value(x: Any) -> Any:
        return _condition(x, parameters, conditions)

    if function == "Ref":
        return parameters[argument]
    if function == "Condition":
        return value(conditions[argument])
    if function == "Fn::Equals":
        return value(values[0]) == value(values[1])
    if function == "Fn::Not":
        return not value(values[0])
    if function == "Fn::And":
        return all(value(v) for v in values)
    if function == "Fn::Or":
        return any(value(v) for v in values)
    raise AssertionError(f"condition function {function} is not understood by this test")


def _resolve_ifs(node: Any, truth: dict[str, bool]) -> Any:
    """The node with every Fn::If replaced by its chosen branch (AWS::NoValue dropped)."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return _resolve_ifs(when_true if truth[name] else when_false, truth)
        if node == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        resolved = {k: _resolve_ifs(v, truth) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
    if isinstance(node, list):
        return [v for v in (_resolve_ifs(i, truth) for i in node) if v is not NO_VALUE]
    return node


def deployed(provider: str) -> dict:
    """The template's resources as created with IdentityProvider=`provider`."""
    template = _template()
    parameters = {name: p.get("Default", "") for name, p in template["Parameters"].items()}
    parameters["IdentityProvider"] = provider
    conditions = template.get("Conditions", {})
    truth = {name: bool(_condition(e, parameters, conditions)) for name, e in conditions.items()}
    kept = {
        name: resource
        for name, resource in template["Resources"].items()
        if truth.get(resource.get("Condition"), True)
    }
    return {"Resources": _resolve_ifs(kept, truth), "Mappings": template["Mappings"]}


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return request.param


def _ref(node: Any) -> str | None:
    return node.get("Ref") if isinstance(node, dict) else None


def _listener_actions(template: dict) -> list[tuple[str, str, list[dict]]]:
    """(resource, listener it belongs to, actions) of every listener and listener rule."""
    found = []
    for name, listener in _resources(template, "AWS::ElasticLoadBalancingV2::Listener").items():
        found.append((name, name, listener["Properties"]["DefaultActions"]))
    for name, rule in _resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").items():
        properties = rule["Properties"]
        found.append((name, _ref(properties["ListenerArn"]), properties["Actions"]))
    return found


def test_every_forward_is_preceded_by_a_sign_in(provider: str) -> None:
    template = deployed(provider)
    forwarding = 0
    for name, _, actions in _listener_actions(template):
        forwards = [a for a in actions if a["Type"] == "forward"]
        if not forwards:
            continue
        forwarding += 1
        sign_ins = [a for a in actions if a["Type"].startswith("authenticate-")]
        assert [a["Type"] for a in sign_ins] == [AUTHENTICATE[provider]], name
        (sign_in,) = sign_ins
        assert all(sign_in["Order"] < f["Order"] for f in forwards), name
        config = sign_in.get("AuthenticateCognitoConfig") or sign_in["AuthenticateOidcConfig"]
        # `allow` would forward anonymous requests too.
        assert config.get("OnUnauthenticatedRequest", "authenticate") == "authenticate", name
        assert config["SessionTimeout"] == {"Ref": "SessionTimeoutSeconds"}, name
    assert forwarding >= 2, "the operators' and the viewers' rules forward"


def test_sign_in_sessions_are_per_host_and_bounded() -> None:
    template = _template()
    timeout = template["Parameters"]["SessionTimeoutSeconds"]
    assert timeout["Default"] <= 12 * 3600 and timeout["MaxValue"] <= 7 * 24 * 3600
    for provider in PROVIDERS:
        # Rules of one host (the viewers' UI and the dashboard) share its session.
        hosts_by_cookie: dict[str, set[str]] = {}
        for rule in _resources(deployed(provider), _LISTENER_RULE).values():
            (host,) = _host_of(rule["Properties"])
            cookie = _sign_in_config(rule["Properties"])["SessionCookieName"]
            hosts_by_cookie.setdefault(cookie, set()).add(host)
        hosts = [host for shared in hosts_by_cookie.values() for host in shared]
        assert len(hosts) == len(set(hosts)) >= 2, provider


def test_plain_http_only_redirects_to_https(provider: str) -> None:
    template = deployed(provider)
    listeners = _resources(template, "AWS::ElasticLoadBalancingV2::Listener")
    protocols = {name: listener["Properties"]["Protocol"] for name, listener in listeners.items()}
    assert set(protocols.values()) == {"HTTP", "HTTPS"}
    for name, listener_name, actions in _listener_actions(template):
        if protocols[listener_name] != "HTTP":
            continue
        assert [a["Type"] for a in actions] == ["redirect"], name
        assert actions[0]["RedirectConfig"]["Protocol"] == "HTTPS"
    for name, listener in listeners.items():
        if protocols[name] == "HTTPS":
            properties = listener["Properties"]
            assert properties["SslPolicy"] in CURRENT_TLS_POLICIES
            assert properties["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    assert "Default" not in _template()["Parameters"]["CertificateArn"], "HTTPS is required"


def _command_behind(template: dict, target_group: str) -> list[str]:
    """The container command of the ECS service registered in `target_group`."""
    services = _resources(template, "AWS::ECS::Service").values()
    (service,) = (
        s
        for s in services
        for lb in s["Properties"].get("LoadBalancers", [])
        if _ref(lb["TargetGroupArn"]) == target_group
    )
    definition = template["Resources"][_ref(service["Properties"]["TaskDefinition"])]
    (container,) = definition["Properties"]["ContainerDefinitions"]
    return container["Command"]


_LISTENER_RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"


def _host_of(rule: dict) -> list[str]:
    """The host names (their parameters' names) a rule's host-header condition matches."""
    (host,) = (c for c in rule["Conditions"] if c["Field"] == "host-header")
    return [_ref(value) for value in host["HostHeaderConfig"]["Values"]]


def _rules_by_host(template: dict) -> dict[str, dict]:
    """The rules matching a whole host (by its parameter's name), not a path under it."""
    rules = {}
    for rule in _resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values():
        conditions = rule["Properties"]["Conditions"]
        if [c["Field"] for c in conditions] == ["host-header"]:
            (host,) = conditions[0]["HostHeaderConfig"]["Values"]
            rules[_ref(host)] = rule["Properties"]
    return rules


def _forward_target(rule: dict) -> str:
    (forward,) = (a for a in rule["Actions"] if a["Type"] == "forward")
    return _ref(forward["TargetGroupArn"])


def test_viewers_get_the_read_only_webserver_and_operators_the_full_one(provider: str) -> None:
    template = deployed(provider)
    rules = _rules_by_host(template)
    assert set(rules) == {"ViewerHostName", "OperatorHostName"}
    viewer = _command_behind(template, _forward_target(rules["ViewerHostName"]))
    operator = _command_behind(template, _forward_target(rules["OperatorHostName"]))
    assert viewer[:2] == ["dagster-webserver", "--read-only"]
    assert operator[0] == "dagster-webserver" and "--read-only" not in operator
    # Apart from the mode, the two serve the same workspace on the same port.
    assert [a for a in viewer if a != "--read-only"] == operator


def test_the_read_only_webserver_cannot_launch_ecs_tasks() -> None:
    template = _template()
    definition = template["Resources"]["ViewerWebserverTaskDefinition"]["Properties"]
    role = template["Resources"][definition["TaskRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert "Policies" not in role  # inline policies would add permissions
    (policy,) = (template["Resources"][_ref(arn)] for arn in role["ManagedPolicyArns"])
    actions = {
        action
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert actions == {"logs:GetLogEvents", "s3:ListBucket", "s3:GetObject"}


def _sign_in_config(rule: dict) -> dict:
    (sign_in,) = (a for a in rule["Actions"] if a["Type"].startswith("authenticate-"))
    return sign_in.get("AuthenticateCognitoConfig") or sign_in["AuthenticateOidcConfig"]


def test_operators_rule_requires_the_operators_group_in_cognito() -> None:
    template = deployed("cognito")
    resources = template["Resources"]
    operator = _sign_in_config(_rules_by_host(template)["OperatorHostName"])
    viewer = _sign_in_config(_rules_by_host(template)["ViewerHostName"])
    operator_client = resources[_ref(operator["UserPoolClientId"])]["Properties"]
    viewer_client = resources[_ref(viewer["UserPoolClientId"])]["Properties"]
    assert operator_client is not viewer_client

    def mapped(node: dict) -> str:
        top, second, third = node["Fn::FindInMap"]
        return template["Mappings"][top][second][third]

    # The pool runs the operators-only function before issuing any token ...
    pool = resources["UserPool"]["Properties"]
    function_name = pool["LambdaConfig"]["PreTokenGeneration"]["Fn::GetAtt"][0]
    variables = resources[function_name]["Properties"]["Environment"]["Variables"]
    # ... which knows the operators' client by its name and the group the template creates.
    assert mapped(operator_client["ClientName"]) == mapped(variables["OPERATORS_CLIENT_NAME"])
    assert mapped(viewer_client["ClientName"]) != mapped(variables["OPERATORS_CLIENT_NAME"])
    (group,) = _resources(template, "AWS::Cognito::UserPoolGroup").values()
    assert variables["OPERATORS_GROUP"] == group["Properties"]["GroupName"]
    # Only administrators create users: nobody signs up into the viewers' audience.
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_operators_rule_uses_the_operators_application_of_the_idp() -> None:
    template = _template()
    rules = _rules_by_host(deployed("oidc"))
    assert _sign_in_config(rules["OperatorHostName"])["ClientId"] == {"Ref": "OidcOperatorClientId"}
    assert _sign_in_config(rules["ViewerHostName"])["ClientId"] == {"Ref": "OidcViewerClientId"}
    # Deploying with one application for both hosts is refused.
    assertions = template["Rules"]["OidcNeedsItsEndpointsAndClients"]["Assertions"]
    refused = {"Fn::Equals": [{"Ref": "OidcViewerClientId"}, {"Ref": "OidcOperatorClientId"}]}
    assert {"Fn::Not": [refused]} in [a["Assert"] for a in assertions]


def _operators_only_module() -> ModuleType:
    """The pre-token-generation function's inline source, loaded as Lambda would."""
    source = _template()["Resources"]["OperatorsOnlyFunction"]["Properties"]["Code"]["ZipFile"]
    module = ModuleType("index")
    exec(compile(source, "OperatorsOnlyFunction/index.py", "exec"), module.__dict__)
    return module


def _pre_token_event(pool_id: str, client_id: str, username: str, groups: list[str]) -> dict:
    """A pre-token-generation (V1) event in the shape Cognito sends."""
    return {
        "version": "1",
        "triggerSource": "TokenGeneration_HostedAuth",
        "region": "us-east-1",
        "userPoolId": pool_id,
        "userName": username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
        "request": {
            "userAttributes": {"sub": username, "email": f"{username}@example.com"},
            "groupConfiguration": {
                "groupsToOverride": groups,
                "iamRolesToOverride": [],
                "preferredRole": None,
            },
        },
        "response": {"claimsOverrideDetails": None},
    }


def test_operators_only_function_refuses_non_operators_on_the_operators_client(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = _template()
    names = template["Mappings"]["SignIn"]["Cognito"]
    group = template["Parameters"]["OperatorsGroupName"]["Default"]
    monkeypatch.setenv("OPERATORS_GROUP", group)
    monkeypatch.setenv("OPERATORS_CLIENT_NAME", names["OperatorClientName"])

    cognito = boto3.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
    cognito.create_group(GroupName=group, UserPoolId=pool_id)
    clients = {
        role: cognito.create_user_pool_client(UserPoolId=pool_id, ClientName=name)[
            "UserPoolClient"
        ]["ClientId"]
        for role, name in (
            ("operator", names["OperatorClientName"]),
            ("viewer", names["ViewerClientName"]),
        )
    }
    for user in ("ada", "bob"):
        cognito.admin_create_user(UserPoolId=pool_id, Username=user)
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="ada", GroupName=group)

    def event(user: str, client: str) -> dict:
        listed = cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username=user)
        groups = [g["GroupName"] for g in listed["Groups"]]
        return _pre_token_event(pool_id, clients[client], user, groups)

    handler = _operators_only_module().handler
    for user, client in (("ada", "operator"), ("ada", "viewer"), ("bob", "viewer")):
        given = event(user, client)
        assert handler(given, None) == given, (user, client)  # tokens issued unchanged
    with pytest.raises(PermissionError, match="operators"):
        handler(event("bob", "operator"), None)
